// keyward dashboard behaviours.
//
// Load with `defer` right after vendor/htmx.min.js. The page sends the CSP
// `script-src 'self'; style-src 'self'`, so this file uses no eval, no inline
// handlers and no inline styles, and it turns off the htmx features that need
// them. Every behaviour is wired by event delegation on document, so it also
// works on content that htmx swaps in later. Without JavaScript every page
// still works through plain links and form posts.
//
// Markup contract (data attributes):
//   meta[name=csrf-token][content]   token sent as X-CSRF-Token on htmx requests
//   dialog[data-autoshow]            opened as a modal as soon as it is in the page
//   dialog[data-remove-on-close]     removed from the DOM once closed
//   dialog[data-confirm-close=MSG]   asks window.confirm(MSG) before closing
//                                    unless a copy button inside succeeded
//   [data-open-dialog="#id"]         opens that dialog as a modal
//   [data-close-dialog]              closes its closest dialog
//   [data-copy="#id"]                copies the value (or text) of #id; hidden
//                                    until this script marks <html class="js">
//   [data-copy-label]                optional element inside the copy button
//                                    whose text becomes "Copied"
//   [data-copy-status]               aria-live region for the copy outcome
//   form[data-no-disable]            keeps its submit buttons enabled on submit
//   time[datetime][data-relative]    text refreshed every minute
//   details.menu                     row menu: one open at a time, Escape,
//                                    outside click, arrow keys
//   .table-wrap[data-fits]           set by app.js while the table fits
//   [data-scroll-focus]              set by app.js (with tabindex=0) on a
//                                    .table-wrap or pre that scrolls sideways
//                                    and holds nothing focusable
//   [data-error-region]              where app.js reports failed htmx requests
//                                    (created at the bottom of the page if
//                                    absent)

(() => {
  "use strict";

  // Controls that need this script (Copy buttons) are hidden until it runs:
  // without JavaScript they would do nothing.
  document.documentElement.classList.add("js");

  // ---------------------------------------------------------------- htmx

  // htmx reads its configuration when the document is ready, which is after
  // this deferred script has run.
  const htmx = window.htmx;
  if (htmx) {
    htmx.config.allowEval = false;
    htmx.config.allowScriptTags = false;
    // The default indicator CSS is injected as a <style> tag, which the CSP
    // blocks; app.css carries the same rules.
    htmx.config.includeIndicatorStyles = false;
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", (event) => {
    const token = csrfToken();
    if (token) event.detail.headers["X-CSRF-Token"] = token;
  });

  // ------------------------------------------------------ request errors

  const errorMessages = {
    0: "The server could not be reached. Check your connection and try again.",
    400: "The request was not accepted. Reload the page and try again.",
    401: "Your session has ended. Sign in again to continue.",
    403: "You don't have permission to do that, or the page is out of date. Reload the page and try again.",
    404: "That item no longer exists. It may have been deleted.",
    409: "That item was changed by someone else. Reload the page and try again.",
    429: "Too many requests. Wait a moment and try again.",
  };

  function errorMessage(status) {
    if (status in errorMessages) return errorMessages[status];
    if (status >= 500) return "Something went wrong on the server. Try again in a moment.";
    return "The request failed. Reload the page and try again.";
  }

  function errorRegion() {
    let region = document.querySelector("[data-error-region]");
    if (!region) {
      region = document.createElement("div");
      region.className = "toast-region";
      region.setAttribute("data-error-region", "");
      document.body.append(region);
    }
    return region;
  }

  function showError(message) {
    const region = errorRegion();
    region.replaceChildren();
    const notice = document.createElement("div");
    notice.className = "notice notice-error";
    notice.setAttribute("role", "alert");
    const text = document.createElement("p");
    text.textContent = message;
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "close";
    dismiss.setAttribute("aria-label", "Dismiss");
    dismiss.textContent = "\u00d7";
    dismiss.addEventListener("click", () => notice.remove());
    notice.append(text, dismiss);
    region.append(notice);
  }

  function clearErrors() {
    const region = document.querySelector("[data-error-region]");
    if (region) region.replaceChildren();
  }

  document.addEventListener("htmx:beforeRequest", clearErrors);
  // An error answer that the server rendered for htmx is swapped into the
  // page (the server retargets it to its notice area). One that is not
  // swapped, or has no body, would fail silently: say what happened.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const detail = event.detail;
    if (!detail.isError) return;
    const body = typeof detail.serverResponse === "string" ? detail.serverResponse.trim() : "";
    if (!detail.shouldSwap || body === "") {
      detail.shouldSwap = false;
      showError(errorMessage(detail.xhr ? detail.xhr.status : 0));
    }
  });
  document.addEventListener("htmx:sendError", () => showError(errorMessage(0)));
  document.addEventListener("htmx:timeout", () => showError(errorMessage(0)));

  // ------------------------------------------------------------- dialogs

  const FOCUSABLE = [
    "a[href]",
    "button:not([disabled])",
    "input:not([disabled]):not([type=hidden])",
    "select:not([disabled])",
    "textarea:not([disabled])",
    "summary",
    "[tabindex]:not([tabindex='-1'])",
  ].join(",");

  function isVisible(el) {
    return el.getClientRects().length > 0;
  }

  // Where focus goes back to when a dialog closes, per dialog.
  const openers = new WeakMap();
  // Recently opened dialogs with their openers, newest last. A dialog that
  // htmx replaces by another (create form → reveal) hands its opener on.
  const recentDialogs = [];
  // Dialogs whose close was already confirmed by the user.
  const confirmedClose = new WeakSet();

  // The element that started the latest htmx request. A dialog that the
  // request brings in opens with it as its opener: by then the focus may
  // have left it (a row menu closes on the click and hides its items).
  let lastTrigger = null;
  document.addEventListener("htmx:beforeRequest", (event) => {
    lastTrigger = event.detail && event.detail.elt;
  });

  function resolveOpener(candidate) {
    if (candidate && candidate !== document.body && candidate.isConnected) {
      return candidate;
    }
    // Only a control the user acted on: not a region refreshed by an event.
    if (lastTrigger && lastTrigger.isConnected && lastTrigger.matches(FOCUSABLE) && !lastTrigger.closest("dialog")) {
      return lastTrigger;
    }
    for (let i = recentDialogs.length - 1; i >= 0; i--) {
      const entry = recentDialogs[i];
      if (!entry.dialog.isConnected && entry.opener && entry.opener.isConnected) {
        return entry.opener;
      }
    }
    return null;
  }

  function focusInitial(dialog) {
    const auto = dialog.querySelector("[autofocus]");
    if (auto && isVisible(auto)) {
      auto.focus();
      return;
    }
    const first = Array.from(dialog.querySelectorAll(FOCUSABLE)).find(isVisible);
    if (first) first.focus();
  }

  function openDialog(dialog, opener) {
    if (!(dialog instanceof HTMLDialogElement)) return;
    if (dialog.open && dialog.matches(":modal")) return;
    const from = resolveOpener(opener || document.activeElement);
    openers.set(dialog, from);
    recentDialogs.push({ dialog, opener: from });
    while (recentDialogs.length > 10) recentDialogs.shift();
    // A secret must never be written into the htmx history cache.
    if (dialog.hasAttribute("data-remove-on-close")) {
      dialog.setAttribute("hx-history", "false");
    }
    // A dialog rendered with `open` (so it shows without JavaScript) is
    // upgraded to a modal one. Removing the attribute fires no close event.
    if (dialog.open) dialog.removeAttribute("open");
    dialog.showModal();
    focusInitial(dialog);
  }

  function needsCloseConfirmation(dialog) {
    return (
      dialog.hasAttribute("data-confirm-close") &&
      dialog.dataset.copied !== "true" &&
      !confirmedClose.has(dialog)
    );
  }

  // Returns true when the dialog may close.
  function confirmClose(dialog) {
    if (!needsCloseConfirmation(dialog)) return true;
    if (window.confirm(dialog.getAttribute("data-confirm-close"))) {
      confirmedClose.add(dialog);
      return true;
    }
    return false;
  }

  function closeDialog(dialog) {
    if (!dialog.open) return;
    if (!confirmClose(dialog)) return;
    dialog.close();
  }

  function returnFocus(dialog) {
    let target = openers.get(dialog);
    if (!target || !target.isConnected) return;
    // An opener in a row menu that has closed since cannot take focus (the
    // closed menu's items may still report boxes): use the menu's summary.
    const menu = target.closest("details");
    if (menu && !menu.open && target.parentElement !== menu) {
      target = menu.querySelector(":scope > summary");
    } else if (!isVisible(target)) {
      target = menu ? menu.querySelector(":scope > summary") : null;
    }
    if (target) target.focus();
  }

  function scrub(dialog) {
    for (const field of dialog.querySelectorAll("input, textarea")) {
      field.value = "";
      field.defaultValue = "";
    }
    dialog.remove();
  }

  // `cancel` and `close` do not bubble: listen in the capture phase.
  document.addEventListener(
    "cancel",
    (event) => {
      const dialog = event.target;
      if (!(dialog instanceof HTMLDialogElement)) return;
      // When the browser does not let the page stop this Escape, the close
      // handler below asks instead and reopens the dialog if needed.
      if (!event.cancelable) return;
      if (!confirmClose(dialog)) event.preventDefault();
    },
    true,
  );

  document.addEventListener(
    "close",
    (event) => {
      const dialog = event.target;
      if (!(dialog instanceof HTMLDialogElement)) return;
      // Reopened (or upgraded to modal) before this queued event ran.
      if (dialog.open) return;
      if (needsCloseConfirmation(dialog) && dialog.isConnected) {
        if (!window.confirm(dialog.getAttribute("data-confirm-close"))) {
          dialog.showModal();
          focusInitial(dialog);
          return;
        }
      }
      confirmedClose.delete(dialog);
      returnFocus(dialog);
      if (dialog.hasAttribute("data-remove-on-close")) scrub(dialog);
    },
    true,
  );

  // --------------------------------------------------------------- copy

  const copyKey = /Mac|iPhone|iPad/.test(navigator.platform || "") ? "\u2318C" : "Ctrl+C";

  function copyStatusFor(button) {
    const scope = button.closest("dialog, form, section, .card") || document;
    return scope.querySelector("[data-copy-status]");
  }

  function selectSource(source) {
    source.focus();
    if (typeof source.select === "function") {
      source.select();
      return;
    }
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  async function writeClipboard(text, source) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch {
        // Denied or unavailable: fall through to the selection fallback.
      }
    }
    // Plain-http installs have no Clipboard API; the legacy command still
    // copies the current selection in most browsers.
    try {
      selectSource(source);
      return document.execCommand("copy");
    } catch {
      return false;
    }
  }

  async function copy(button) {
    const source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    const text = "value" in source ? source.value : source.textContent.trim();
    const status = copyStatusFor(button);
    const ok = await writeClipboard(text, source);
    if (ok) {
      const label = button.querySelector("[data-copy-label]") || button;
      label.textContent = "Copied";
      button.setAttribute("data-copied", "true");
      const dialog = button.closest("dialog");
      if (dialog) dialog.setAttribute("data-copied", "true");
      if (status) status.textContent = "Copied to clipboard";
      // Leave the focus on the button, not on the selected secret.
      button.focus();
      window.getSelection().removeAllRanges();
    } else {
      selectSource(source);
      if (status) status.textContent = `Press ${copyKey} to copy`;
    }
  }

  // ------------------------------------------------------------ row menus

  function menuItems(menu) {
    return Array.from(
      menu.querySelectorAll(":scope > ul a[href], :scope > ul button:not([disabled])"),
    ).filter(isVisible);
  }

  function closeMenus(except) {
    for (const menu of document.querySelectorAll("details.menu[open]")) {
      if (menu !== except) menu.open = false;
    }
  }

  // A menu in a table that scrolls sideways floats over the page (CSS gives
  // it position: fixed) under its ⋯ button, or above it near the bottom of
  // the window, so that opening it never grows its row.
  function placeMenu(menu) {
    const list = menu.querySelector(":scope > ul");
    const wrap = menu.closest(".table-wrap");
    if (!list) return;
    if (!wrap || wrap.hasAttribute("data-fits") || !menu.open) {
      list.style.removeProperty("top");
      list.style.removeProperty("right");
      list.style.removeProperty("bottom");
      return;
    }
    const r = menu.querySelector(":scope > summary").getBoundingClientRect();
    const height = list.offsetHeight;
    let top = r.bottom + 4;
    if (top + height > window.innerHeight && r.top - 4 - height >= 0) top = r.top - 4 - height;
    list.style.top = `${Math.round(top)}px`;
    list.style.bottom = "auto";
    list.style.right = `${Math.round(Math.max(document.documentElement.clientWidth - r.right, 4))}px`;
  }

  document.addEventListener(
    "toggle",
    (event) => {
      const menu = event.target;
      if (menu instanceof HTMLDetailsElement && menu.matches(".menu")) {
        if (menu.open) closeMenus(menu);
        placeMenu(menu);
      }
    },
    true,
  );
  // Scrolling moves the ⋯ button: the menu follows it.
  document.addEventListener(
    "scroll",
    () => {
      for (const menu of document.querySelectorAll(".table-wrap details.menu[open]")) placeMenu(menu);
    },
    { capture: true, passive: true },
  );

  function onMenuKey(event, menu) {
    const summary = menu.querySelector(":scope > summary");
    if (event.key === "Escape" && menu.open) {
      // Keep the Escape from also closing a dialog around the menu.
      event.preventDefault();
      event.stopPropagation();
      menu.open = false;
      summary.focus();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp" && event.key !== "Home" && event.key !== "End") {
      return;
    }
    if (!menu.open) {
      if (event.target !== summary || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) return;
      menu.open = true;
    }
    const items = menuItems(menu);
    if (items.length === 0) return;
    event.preventDefault();
    const current = items.indexOf(document.activeElement);
    let next;
    if (event.key === "Home") next = 0;
    else if (event.key === "End") next = items.length - 1;
    else if (current === -1) next = event.key === "ArrowDown" ? 0 : items.length - 1;
    else if (event.key === "ArrowDown") next = (current + 1) % items.length;
    else next = (current - 1 + items.length) % items.length;
    items[next].focus();
  }

  // ------------------------------------------- focus after a confirmation

  // A revoke or delete confirmed in a dialog changes the table under it:
  // focus goes back to the key's row (revoked: still there), or to the row
  // that took its place, the one before it, or the page's heading, instead
  // of the page's body. The notice in #flash (aria-live) says what
  // happened. The table is refreshed once more after a delete, so the focus
  // is put back after that too.
  let afterConfirm = null;

  document.addEventListener("htmx:beforeRequest", (event) => {
    const form = event.detail && event.detail.elt;
    if (!(form instanceof HTMLFormElement) || !form.closest("dialog.confirm")) return;
    const target = form.getAttribute("hx-target");
    const row = target ? document.querySelector(target) : null;
    if (!row || row.tagName !== "TR") return;
    const id = (el) => (el && el.id) || "";
    afterConfirm = {
      ids: [row.id, id(row.nextElementSibling), id(row.previousElementSibling)],
      until: Date.now() + 5000,
    };
  });

  function focusAfterConfirm() {
    if (!afterConfirm) return;
    if (Date.now() > afterConfirm.until) {
      afterConfirm = null;
      return;
    }
    if (document.querySelector("dialog[open]")) return;
    const active = document.activeElement;
    // Only focus that was lost (to the body, or with a replaced element).
    if (active && active !== document.body && active.isConnected) return;
    for (const id of afterConfirm.ids) {
      const row = id ? document.getElementById(id) : null;
      if (!row) continue;
      const control = row.querySelector("details.menu > summary");
      if (control) {
        control.focus();
      } else {
        row.setAttribute("tabindex", "-1");
        row.focus();
      }
      return;
    }
    const heading = document.querySelector("#content h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  document.addEventListener("htmx:afterSettle", () => setTimeout(focusAfterConfirm, 0));

  // -------------------------------------------------------- "/" to search

  function isTyping(el) {
    return (
      el instanceof HTMLElement &&
      (el.isContentEditable || el.matches("input, textarea, select, [role=textbox]"))
    );
  }

  function onSlash(event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTyping(event.target)) return;
    if (document.querySelector("dialog:modal")) return;
    const search = Array.from(document.querySelectorAll("input[type=search]")).find(isVisible);
    if (!search) return;
    event.preventDefault();
    search.focus();
    search.select();
  }

  // ------------------------------------------------------ event delegation

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;

    // Outside clicks close row menus; clicks on an item close its menu.
    const inMenu = target.closest("details.menu");
    closeMenus(inMenu);
    if (inMenu && target.closest("details.menu > ul a, details.menu > ul button")) {
      inMenu.open = false;
    }

    const opener = target.closest("[data-open-dialog]");
    if (opener) {
      const dialog = document.querySelector(opener.getAttribute("data-open-dialog"));
      if (dialog instanceof HTMLDialogElement) {
        event.preventDefault();
        openDialog(dialog, opener);
      }
      return;
    }

    const closer = target.closest("[data-close-dialog]");
    if (closer) {
      const dialog = closer.closest("dialog");
      if (dialog) {
        event.preventDefault();
        closeDialog(dialog);
      }
      return;
    }

    const copier = target.closest("[data-copy]");
    if (copier) {
      event.preventDefault();
      copy(copier);
    }
  });

  document.addEventListener("keydown", (event) => {
    const menu = event.target instanceof Element ? event.target.closest("details.menu") : null;
    if (menu) {
      onMenuKey(event, menu);
      if (event.defaultPrevented) return;
    }
    if (event.key === "Escape") {
      const open = document.querySelector("details.menu[open]");
      if (open && !menu) {
        open.open = false;
      }
    }
    onSlash(event);
  });

  // ------------------------------------------------------- submit buttons

  // Plain form posts: disable the submit buttons once the submit goes ahead,
  // so a double click cannot create two keys. The check runs after every
  // other handler (htmx prevents the default for its own forms, which
  // disable their buttons through hx-disabled-elt) and after the browser has
  // collected the form data, which would lose a disabled submitter's value.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const submitter = event.submitter;
    const method = (submitter && submitter.getAttribute("formmethod")) || form.method;
    const target = (submitter && submitter.getAttribute("formtarget")) || form.target;
    if (method.toLowerCase() === "dialog" || form.hasAttribute("data-no-disable")) return;
    if (target && target !== "_self") return;
    setTimeout(() => {
      if (event.defaultPrevented) return;
      const buttons = form.querySelectorAll(
        "button:not([type=button]):not([type=reset]):not([disabled]), input[type=submit]:not([disabled])",
      );
      for (const button of buttons) {
        button.disabled = true;
        button.setAttribute("data-disabled-on-submit", "");
      }
      if (submitter) submitter.setAttribute("aria-busy", "true");
    }, 0);
  });

  // A page restored from the back/forward cache must not keep dead buttons.
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    for (const button of document.querySelectorAll("[data-disabled-on-submit]")) {
      button.disabled = false;
      button.removeAttribute("data-disabled-on-submit");
      button.removeAttribute("aria-busy");
    }
  });

  // ------------------------------------------------------- relative times

  const relative = new Intl.RelativeTimeFormat("en", { numeric: "always" });
  const MINUTE = 60;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;

  // The same steps as the server: whole units, rounded towards zero.
  function relativeText(date, now) {
    const seconds = Math.round((date.getTime() - now) / 1000);
    const abs = Math.abs(seconds);
    const sign = seconds < 0 ? -1 : 1;
    if (abs < MINUTE) return "just now";
    if (abs < HOUR) return relative.format(sign * Math.floor(abs / MINUTE), "minute");
    if (abs < DAY) return relative.format(sign * Math.floor(abs / HOUR), "hour");
    if (abs < 30 * DAY) return relative.format(sign * Math.floor(abs / DAY), "day");
    if (abs < 365 * DAY) return relative.format(sign * Math.floor(abs / (30 * DAY)), "month");
    return relative.format(sign * Math.floor(abs / (365 * DAY)), "year");
  }

  function exactUTC(date) {
    return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  }

  function refreshTimes(root) {
    const now = Date.now();
    for (const el of root.querySelectorAll("time[datetime][data-relative]")) {
      const date = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(date.getTime())) continue;
      const text = relativeText(date, now);
      if (el.textContent !== text) el.textContent = text;
      if (!el.title) el.title = exactUTC(date);
    }
  }

  setInterval(() => refreshTimes(document), 60 * 1000);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refreshTimes(document);
  });

  // -------------------------------------------------------------- tables

  // A .table-wrap scrolls sideways unless its table fits; data-fits lets the
  // CSS drop the clipping so that sticky headers and row menus work.
  function updateFit(wrap) {
    const table = wrap.querySelector(":scope > table");
    if (!table) return;
    // An open menu laid out in a row would widen the table: leave it out.
    wrap.setAttribute("data-measuring", "");
    const fits = table.offsetWidth <= wrap.clientWidth + 1;
    wrap.removeAttribute("data-measuring");
    wrap.toggleAttribute("data-fits", fits);
  }

  // A region that scrolls sideways (a wide table, a long code sample) has
  // to take focus to be scrolled with the keyboard, unless something inside
  // it can: it gets tabindex 0 while it overflows.
  function updateScrollFocus(el) {
    const needs = el.scrollWidth > el.clientWidth + 1 && !el.querySelector(FOCUSABLE);
    if (needs && !el.hasAttribute("tabindex")) {
      el.setAttribute("tabindex", "0");
      el.setAttribute("data-scroll-focus", "");
    } else if (!needs && el.hasAttribute("data-scroll-focus")) {
      el.removeAttribute("tabindex");
      el.removeAttribute("data-scroll-focus");
    }
  }

  function fitTables() {
    for (const wrap of document.querySelectorAll(".table-wrap")) updateFit(wrap);
    for (const el of document.querySelectorAll(".table-wrap, pre")) updateScrollFocus(el);
  }

  let fitPending = false;
  window.addEventListener("resize", () => {
    if (fitPending) return;
    fitPending = true;
    requestAnimationFrame(() => {
      fitPending = false;
      fitTables();
    });
  });

  // ------------------------------------------------------------ new content

  function init(root) {
    if (!(root instanceof Element)) return;
    const dialogs = Array.from(root.querySelectorAll("dialog[data-autoshow]"));
    if (root.matches("dialog[data-autoshow]")) dialogs.unshift(root);
    for (const dialog of dialogs) openDialog(dialog);
    // A swapped-in table can change the width of every other one (the
    // page's scroll bar): measure them all.
    fitTables();
  }

  document.addEventListener("htmx:load", (event) => init(event.detail.elt || event.target));

  // Keep secrets out of the htmx history cache. An open reveal dialog carries
  // hx-history="false" (set in openDialog), which stops the snapshot; a
  // closed one still in the page is wiped before it can be saved.
  document.addEventListener("htmx:beforeHistorySave", (event) => {
    const root = (event.detail && event.detail.historyElt) || document.body;
    for (const dialog of root.querySelectorAll("dialog[data-remove-on-close]")) {
      if (!dialog.open) scrub(dialog);
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => init(document.body));
  } else {
    init(document.body);
  }
})();
