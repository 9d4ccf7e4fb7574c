// Checkout: place the order, collect the card with Stripe.js (SetupIntent), charge on the server,
// finish 3-D Secure in the page when the bank asks, then go to the receipt.
(function () {
  "use strict";
  const form = document.getElementById("checkout-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.stripeKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const button = document.getElementById("pay-button");
  const errorBox = document.getElementById("checkout-error");
  const status = document.getElementById("pay-status");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  let busy = false;

  function showError(message) {
    errorBox.textContent = message;
    errorBox.classList.remove("d-none");
    errorBox.focus();
    status.textContent = "";
  }

  function clearErrors() {
    errorBox.classList.add("d-none");
    form.querySelectorAll(".is-invalid").forEach((el) => {
      el.classList.remove("is-invalid");
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    });
    form.querySelectorAll(".js-field-error").forEach((el) => el.remove());
  }

  function showFieldErrors(errors) {
    Object.entries(errors).forEach(([name, list]) => {
      const input = form.querySelector(`[name="${name}"]`);
      const text = list.map((e) => e.message).join(" ");
      if (!input || input.type === "hidden") { showError(text); return; }
      input.classList.add("is-invalid");
      input.setAttribute("aria-invalid", "true");
      const feedback = document.createElement("div");
      feedback.className = "invalid-feedback js-field-error";
      feedback.id = `${input.id || name}-error`;
      feedback.textContent = text;
      input.setAttribute("aria-describedby", feedback.id);
      input.insertAdjacentElement("afterend", feedback);
    });
    const first = form.querySelector(".is-invalid");
    if (first) first.focus();
  }

  async function post(url, data) {
    const response = await fetch(url, {
      method: "POST",
      headers: {"X-CSRFToken": csrf, "Accept": "application/json"},
      body: data,
      credentials: "same-origin",
    });
    const body = await response.json().catch(() => ({message: "The server did not answer; please try again."}));
    return {ok: response.ok, status: response.status, body};
  }

  async function settle(result, refreshUrl) {
    let body = result.body;
    if (body.state === "requires_action") {
      status.textContent = "Your bank asks you to confirm this payment…";
      const auth = await stripe.confirmCardPayment(body.client_secret);
      const after = await post(refreshUrl, new FormData());
      body = after.body;
      if (auth.error && body.state !== "succeeded") {
        return showError(auth.error.message || body.message || "The payment was not confirmed.");
      }
    }
    if (body.state === "succeeded") {
      status.textContent = "Payment received. Opening your receipt…";
      window.location.assign(body.receipt_url);
      return true;
    }
    if (body.state === "processing") {
      status.textContent = body.message;
      setTimeout(async () => settle(await post(refreshUrl, new FormData()), refreshUrl), 1500);
      return true;
    }
    showError(body.message || "The payment failed.");
    return false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;  // a second click while paying does nothing
    busy = true;
    button.disabled = true;
    clearErrors();
    status.textContent = "Processing payment…";
    try {
      const started = await post(form.action || window.location.href, new FormData(form));
      if (!started.ok) {
        if (started.body.errors) showFieldErrors(started.body.errors);
        else showError(started.body.error || started.body.message);
        status.textContent = "";  // field errors or a refusal: nothing is being processed
        return;
      }
      const start = started.body;
      if (start.state !== "created") {  // another tab is already paying this order
        await settle(await post(start.refresh_url, new FormData()), start.refresh_url);
        return;
      }
      const setup = await stripe.confirmCardSetup(start.client_secret, {payment_method: {card: card}});
      if (setup.error) {
        showError(setup.error.message || "The card was not accepted.");
        return;
      }
      const data = new FormData();
      data.append("payment_method", setup.setupIntent.payment_method);
      await settle(await post(start.charge_url, data), start.refresh_url);
    } catch (err) {
      showError("Something went wrong while paying; nothing was charged twice. Please try again.");
    } finally {
      busy = false;
      button.disabled = false;
    }
  });
})();
