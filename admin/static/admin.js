// The admin UI's only script: copy buttons. Every page works without it.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  var text = document.getElementById(button.dataset.copy).innerText;
  var status = button.parentElement.querySelector(".copy-status");
  navigator.clipboard.writeText(text).then(function () {
    if (status) status.textContent = button.dataset.done;
  });
});
