// Opens and closes the sign-in dialog.
document.addEventListener("DOMContentLoaded", () => {
  const dialog = document.getElementById("dialog");
  const open = document.getElementById("sign-in-button");
  const close = document.getElementById("close-dialog");
  if (open && dialog) open.addEventListener("click", () => dialog.showModal());
  if (close && dialog) close.addEventListener("click", () => dialog.close());
});
