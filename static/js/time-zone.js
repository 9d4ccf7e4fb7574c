// Tells the portal the browser's time zone at log-in, for a person who has not chosen one yet.
(function () {
  var field = document.querySelector("input[name=time_zone]");
  if (!field || !window.Intl || !Intl.DateTimeFormat) return;
  try {
    field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) {
    field.value = "";
  }
})();
