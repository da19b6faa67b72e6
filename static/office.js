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

// Template editors: "Insert" puts a variable at the cursor of the field last
// focused, and SMS bodies get a live character and segment count. Without
// JavaScript the variables are listed to copy, and the server shows the count
// after a preview or save.
(function () {
  "use strict";
  var form = document.querySelector("form[data-template-editor]");
  if (!form) {
    return;
  }
  var fields = form.querySelectorAll("[data-variable-target]");
  var last = fields.length ? fields[fields.length - 1] : null;
  fields.forEach(function (field) {
    field.addEventListener("focus", function () {
      last = field;
    });
  });
  document.querySelectorAll("button[data-insert-variable]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      if (!last) {
        return;
      }
      var text = button.getAttribute("data-insert-variable");
      var start = last.selectionStart === null ? last.value.length : last.selectionStart;
      var end = last.selectionEnd === null ? start : last.selectionEnd;
      last.value = last.value.slice(0, start) + text + last.value.slice(end);
      last.focus();
      last.setSelectionRange(start + text.length, start + text.length);
      last.dispatchEvent(new Event("input"));
    });
  });

  // The same rule as template::sms_segments: GSM-7 (160 in one message,
  // 153 per part; extension characters count 2) unless one character is
  // outside it, then UCS-2 (70, 67 per part) counted in UTF-16 units.
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "^{}\\[~]|€\f";
  var count = function (text) {
    var septets = 0;
    var gsm = true;
    for (var c of text) {
      if (EXTENSION.indexOf(c) >= 0) {
        septets += 2;
      } else if (BASIC.indexOf(c) >= 0) {
        septets += 1;
      } else {
        gsm = false;
        break;
      }
    }
    var units = gsm ? septets : text.length;
    var single = gsm ? 160 : 70;
    var part = gsm ? 153 : 67;
    var segments = units === 0 ? 0 : units <= single ? 1 : Math.ceil(units / part);
    return { units: units, segments: segments, gsm: gsm };
  };
  form.querySelectorAll("textarea[data-sms-count]").forEach(function (area) {
    var out = document.getElementById(area.getAttribute("data-sms-count"));
    if (!out) {
      return;
    }
    var update = function () {
      var n = count(area.value);
      out.textContent =
        "As typed (variables as written): " + n.units + " characters (" +
        (n.gsm ? "GSM-7" : "Unicode (UCS-2)") + "), " + n.segments +
        (n.segments === 1 ? " segment." : " segments.") +
        (n.segments > 1 ? " Crosses into " + n.segments + " segments: each send costs " + n.segments + " messages." : "");
    };
    out.hidden = false;
    area.addEventListener("input", update);
    update();
  });
})();
