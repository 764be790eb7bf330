"""The web app (`imgclf ui`): DVC's experiments, their plots and the search studies of one repository, on a local
page."""
