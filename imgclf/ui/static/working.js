// A confirmed action waits for DVC (queueing starts a worker: a minute or so): say so, and keep it from running twice.
document.querySelectorAll("form.act").forEach((form) => {
  form.addEventListener("submit", () => {
    const button = form.querySelector("button.confirm");
    button.disabled = true;
    button.textContent = "Running DVC… (this page answers when it is done)";
  });
});
