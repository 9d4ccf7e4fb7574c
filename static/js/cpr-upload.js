/* Certification Maintenance: list chosen card files and upload each one with a progress bar.
 *
 * Without this script the page is a plain multipart form (Upload posts the files,
 * Submit posts the card details). With it, Upload sends each file on its own request
 * to the form's data-upload-url and shows "37% 5.6 KB of 15.2 KB" while it goes;
 * Submit first uploads any files still waiting.
 */
(function () {
  "use strict";

  var form = document.getElementById("cpr-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) {
    return;
  }
  var input = document.getElementById("id_files");
  var label = form.querySelector("label[for='id_files']");
  var list = document.getElementById("cpr-file-list");
  var empty = document.getElementById("cpr-no-files");
  var live = document.getElementById("cpr-upload-status");
  var uploadUrl = form.getAttribute("data-upload-url");
  var maxFiles = Number(form.getAttribute("data-max-files")) || 4;
  var csrf = form.querySelector("input[name='csrfmiddlewaretoken']").value;
  var waiting = [];
  var busy = false;

  // The native control reads "Choose Files"; show the page's own "Choose File" button instead.
  input.classList.add("visually-hidden");
  label.classList.remove("form-label");
  label.classList.add("btn", "btn-outline-primary", "cpr-choose-button");

  function formatSize(bytes) {
    if (bytes < 1024) {
      return bytes === 1 ? "1 byte" : bytes + " bytes";
    }
    if (bytes < 1024 * 1024) {
      return (bytes / 1024).toFixed(1) + " KB";
    }
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function say(text) {
    live.textContent = text;
  }

  function refreshEmpty() {
    empty.hidden = list.children.length > 0;
  }

  function makeRow(file) {
    var row = document.createElement("li");
    row.className = "cpr-file is-waiting";
    var head = document.createElement("div");
    head.className = "cpr-file-head";
    var name = document.createElement("span");
    name.className = "cpr-file-name";
    name.textContent = file.name;
    var size = document.createElement("span");
    size.className = "cpr-file-size";
    size.textContent = formatSize(file.size);
    head.appendChild(name);
    head.appendChild(size);
    var bar = document.createElement("div");
    bar.className = "progress cpr-progress";
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-label", "Upload of " + file.name);
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.setAttribute("aria-valuenow", "0");
    var fill = document.createElement("div");
    fill.className = "progress-bar";
    bar.appendChild(fill);
    var text = document.createElement("div");
    text.className = "cpr-file-progress small";
    text.textContent = "Ready to upload";
    var error = document.createElement("div");
    error.className = "cpr-file-error small";
    row.appendChild(head);
    row.appendChild(bar);
    row.appendChild(text);
    row.appendChild(error);
    list.appendChild(row);
    return {file: file, row: row, name: name, bar: bar, fill: fill, text: text, error: error};
  }

  function setProgress(item, percent) {
    var shown = percent >= 100 ? item.file.size : Math.min(item.file.size, Math.round(item.file.size * percent / 100));
    item.fill.style.width = percent + "%";
    item.bar.setAttribute("aria-valuenow", String(percent));
    item.text.textContent = percent + "% " + formatSize(shown) + " of " + formatSize(item.file.size);
  }

  function fail(item, message) {
    item.row.classList.remove("is-waiting", "is-uploading");
    item.row.classList.add("is-error");
    item.error.setAttribute("role", "alert");
    item.error.textContent = message;
    item.text.textContent = "Not uploaded";
  }

  function uploadOne(item) {
    return new Promise(function (resolve) {
      var data = new FormData();
      data.append("csrfmiddlewaretoken", csrf);
      data.append("file", item.file, item.file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", uploadUrl);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      item.row.classList.remove("is-waiting");
      item.row.classList.add("is-uploading");
      setProgress(item, 0);
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable && event.total > 0) {
          // The request carries a little more than the file; 100% waits for the server's answer.
          setProgress(item, Math.min(99, Math.floor(event.loaded * 100 / event.total)));
        }
      });
      xhr.addEventListener("load", function () {
        var answer = null;
        try {
          answer = JSON.parse(xhr.responseText);
        } catch (e) {
          answer = null;
        }
        if (xhr.status === 201 && answer && answer.file) {
          setProgress(item, 100);
          item.row.classList.remove("is-uploading");
          item.row.classList.add("is-done");
          var link = document.createElement("a");
          link.className = "cpr-file-name";
          link.href = answer.file.url;
          link.textContent = answer.file.name;
          item.name.replaceWith(link);
          resolve(true);
        } else if (answer && answer.error) {
          fail(item, answer.error);
          resolve(false);
        } else if (xhr.responseURL && xhr.responseURL.indexOf("/accounts/login/") !== -1) {
          fail(item, "You were logged out. Log in again, then upload the file once more.");
          resolve(false);
        } else {
          fail(item, "The upload failed (HTTP " + xhr.status + "). Reload the page and try again.");
          resolve(false);
        }
      });
      xhr.addEventListener("error", function () {
        fail(item, "The upload was interrupted. Check your connection and try again.");
        resolve(false);
      });
      xhr.send(data);
    });
  }

  function uploadWaiting() {
    var items = waiting;
    waiting = [];
    input.value = "";
    busy = true;
    var ok = 0;
    var chain = Promise.resolve();
    items.forEach(function (item) {
      chain = chain.then(function () {
        return uploadOne(item).then(function (done) {
          if (done) {
            ok += 1;
          }
        });
      });
    });
    return chain.then(function () {
      busy = false;
      say(ok + " of " + items.length + " file" + (items.length === 1 ? "" : "s") + " uploaded.");
      return ok === items.length;
    });
  }

  input.addEventListener("change", function () {
    waiting.forEach(function (item) {
      item.row.remove();
    });
    waiting = [];
    if (input.files.length > maxFiles) {
      say("Choose at most " + maxFiles + " files (you chose " + input.files.length + ").");
      input.value = "";
    } else {
      say("");
      waiting = Array.prototype.map.call(input.files, makeRow);
    }
    refreshEmpty();
  });

  form.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var action = submitter ? submitter.value : "submit";
    if (busy) {
      event.preventDefault();
      return;
    }
    if (action === "upload") {
      event.preventDefault();
      if (!waiting.length) {
        say("Choose one or more files to upload.");
        input.focus();
        return;
      }
      uploadWaiting();
    } else if (action === "submit" && waiting.length) {
      event.preventDefault();
      uploadWaiting().then(function (allOk) {
        if (allOk) {
          form.requestSubmit(submitter || undefined);
        }
      });
    }
  });
})();
