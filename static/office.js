// Office pages: the "Copy" button next to a payment link. Without
// JavaScript (or clipboard access) the button stays hidden and the link is
// still there to select and copy by hand.
(function () {
  "use strict";
  if (!navigator.clipboard) {
    return;
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) {
      return;
    }
    var status = button.parentNode.querySelector(".copy-status");
    var say = function (text) {
      if (status) {
        status.textContent = text;
      }
    };
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(
        function () {
          say("Link copied.");
        },
        function () {
          field.select();
          say("Copying was blocked: press Ctrl+C (or Cmd+C) to copy the selected link.");
        }
      );
    });
  });
})();
