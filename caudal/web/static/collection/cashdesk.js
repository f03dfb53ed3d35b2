/* Caudal · the cash desk: change as the cashier types, and "Cobrar" that opens the receipt.
 *
 * The pay form works without this script (it posts and the desk comes back with a button
 * to print the receipt). With it, the form is sent with fetch; when the payment is
 * recorded the receipt opens in a new tab at once (still within the click's user
 * activation, so pop-up blockers let it through) and the desk reloads for the next
 * customer. A refusal comes back as the desk page with the errors next to the fields; it
 * replaces the current one. If the network fails, the form is posted the ordinary way:
 * its client key makes a second submit of an already recorded payment harmless.
 */
(function () {
  "use strict";

  function minor(text) {
    // "1234.50", "1234,50", "1234" → 123450; null when it is not an amount.
    var raw = (text || "").trim();
    if (raw.indexOf(",") >= 0 && raw.indexOf(".") < 0 && raw.split(",").length === 2) {
      raw = raw.replace(",", ".");
    }
    if (!/^\d+(\.\d{1,2})?$/.test(raw)) return null;
    var parts = raw.split(".");
    var cents = ((parts[1] || "") + "00").slice(0, 2);
    return parseInt(parts[0], 10) * 100 + parseInt(cents, 10);
  }

  function format(value, currency) {
    var whole = Math.floor(value / 100).toString();
    var cents = ("0" + (value % 100)).slice(-2);
    var sep = currency === "COP" ? "." : ",";
    var dec = currency === "COP" ? "," : ".";
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, sep);
    var symbol = { PEN: "S/", COP: "$", USD: "US$" }[currency] || currency;
    return symbol + " " + whole + dec + cents;
  }

  function updateChange(form, currency) {
    var out = form.querySelector("#change");
    if (!out) return;
    var box = out.closest(".change-box");
    var amount = minor(form.querySelector("#amount").value);
    var tendered = minor(form.querySelector("#tendered").value);
    box.classList.remove("is-short");
    if (amount === null || tendered === null) {
      out.textContent = "—";
    } else if (tendered < amount) {
      box.classList.add("is-short");
      out.textContent = "Falta " + format(amount - tendered, currency);
    } else {
      out.textContent = format(tendered - amount, currency);
    }
  }

  function replaceDesk(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("desk");
    var current = document.getElementById("desk");
    if (!fresh || !current) {
      document.open();
      document.write(html);
      document.close();
      return;
    }
    current.replaceWith(fresh);
    init();
    var focus = fresh.querySelector("[autofocus]");
    if (focus) focus.focus();
  }

  function bindPay(form, currency) {
    ["#amount", "#tendered"].forEach(function (sel) {
      var input = form.querySelector(sel);
      if (input) input.addEventListener("input", function () { updateChange(form, currency); });
    });
    updateChange(form, currency);
    var busy = false;
    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.FormData) return;
      event.preventDefault();
      if (busy) return;
      busy = true;
      var button = form.querySelector("#pay-button");
      if (button) button.disabled = true;
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (response.ok && type.indexOf("application/json") === 0) {
            return response.json().then(function (data) {
              window.open(data.receipt, "_blank", "noopener");
              window.location.assign(data.next);
            });
          }
          return response.text().then(replaceDesk);
        })
        .catch(function () {
          HTMLFormElement.prototype.submit.call(form);
        });
    });
  }

  function init() {
    var desk = document.getElementById("desk");
    if (!desk) return;
    var currency = desk.getAttribute("data-currency") || "PEN";
    var form = document.getElementById("pay-form");
    if (form) bindPay(form, currency);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
