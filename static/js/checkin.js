// Check-in at the door on a flaky connection: each check-in is one idempotent request,
// sent again (up to five times, waiting longer each time) until the server answers; the
// count of eligible members present is refreshed every few seconds.
(function () {
  "use strict";
  var counter = document.getElementById("eligible-present");
  var present = document.getElementById("present");

  function show(data) {
    if (counter && typeof data.eligible_present === "number") counter.textContent = data.eligible_present;
    if (present && typeof data.present === "number") present.textContent = present.dataset.label.replace("{n}", data.present);
  }

  function send(form, attempt) {
    var button = form.querySelector("button");
    return fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then(function (response) {
      if (!response.ok) throw new Error(response.status);
      return response.json();
    }).then(function (data) {
      button.textContent = button.dataset.done;
      button.className = "btn btn-success";
      button.disabled = true;
      show(data);
    }).catch(function () {
      if (attempt >= 5) {
        button.disabled = false;
        button.textContent = button.dataset.retry;
        return;
      }
      button.textContent = button.dataset.waiting;
      return new Promise(function (resolve) { setTimeout(resolve, 500 * Math.pow(2, attempt)); })
        .then(function () { return send(form, attempt + 1); });
    });
  }

  document.querySelectorAll("form.checkin").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      form.querySelector("button").disabled = true;
      send(form, 0);
    });
  });

  var root = document.getElementById("checkin");
  var poll = root && root.dataset.presence;
  if (poll) {
    setInterval(function () {
      fetch(poll, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) show(data); })
        .catch(function () {});
    }, 5000);
  }
})();
