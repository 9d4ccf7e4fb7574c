/* Audit page: show each proof upload's progress.
 *
 * Without this script every "Upload proof" is a plain multipart form that posts one file and comes back
 * to the page. With it, the file goes on a request of its own (asking for JSON) with a progress bar, a refusal
 * is shown under the credit without leaving the page, and a success loads the page again at that credit.
 */
(function () {
  "use strict";

  if (!window.FormData || !window.XMLHttpRequest) {
    return;
  }

  function formatSize(bytes) {
    if (bytes < 1024) {
      return bytes === 1 ? "1 byte" : bytes + " bytes";
    }
    if (bytes < 1024 * 1024) {
      return (bytes / 1024).toFixed(1) + " KB";
    }
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function go(url) {
    var target = new URL(url, window.location.href);
    if (target.pathname === window.location.pathname && target.search === window.location.search) {
      window.location.hash = target.hash;
      window.location.reload();
    } else {
      window.location.assign(target.href);
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("form.audit-upload"), function (form) {
    var input = form.querySelector("input[type='file']");
    var button = form.querySelector("button[type='submit']");
    var bar = form.querySelector(".audit-upload-progress");
    var status = form.querySelector(".audit-upload-status");
    var error = form.querySelector(".audit-upload-error");
    var busy = false;

    function refuse(message) {
      busy = false;
      button.disabled = false;
      bar.hidden = true;
      status.textContent = "";
      error.setAttribute("role", "alert");
      error.textContent = message;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", error.id);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) {
        return;
      }
      var file = input.files && input.files[0];
      if (!file) {
        refuse("Choose a file of proof (a certificate of completion or a transcript) first.");
        input.focus();
        return;
      }
      busy = true;
      button.disabled = true;
      error.textContent = "";
      input.removeAttribute("aria-invalid");
      bar.hidden = false;
      bar.value = 0;
      status.textContent = "Uploading " + file.name + " (" + formatSize(file.size) + ")…";

      var data = new FormData(form);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable && e.total > 0) {
          // The request is a little more than the file; 100% waits for the server's answer.
          var percent = Math.min(99, Math.floor(e.loaded * 100 / e.total));
          bar.value = percent;
          status.textContent = percent + "% of " + formatSize(file.size);
        }
      });
      xhr.addEventListener("load", function () {
        var answer = null;
        try {
          answer = JSON.parse(xhr.responseText);
        } catch (e) {
          answer = null;
        }
        if (xhr.status === 201 && answer && answer.redirect) {
          bar.value = 100;
          status.textContent = "Uploaded.";
          go(answer.redirect);
        } else if (answer && answer.error) {
          refuse(answer.error);
        } else if (xhr.responseURL && xhr.responseURL.indexOf("/accounts/login/") !== -1) {
          refuse("You were logged out. Log in again, then upload the file once more.");
        } else {
          refuse("The upload failed (HTTP " + xhr.status + "). Reload the page and try again.");
        }
      });
      xhr.addEventListener("error", function () {
        refuse("The upload was interrupted. Check your connection and try again.");
      });
      xhr.send(data);
    });
  });
})();
