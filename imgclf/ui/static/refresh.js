// While experiments are queued or running, the page reloads itself every 10 s (DVC's live metrics come with it).
setTimeout(() => window.location.reload(), 10000);
