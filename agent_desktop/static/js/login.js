// The login page: challenge from the desk, signature from the local eID bridge, token back to the desk. Where the
// deployment offers it, the other way in: the browser already showed the eID to the desk's TLS proxy, so one
// POST /api/login/tls asks the desk to check that certificate.
import { api, ApiError } from "./api.js";
import { errorText, loadLang, pickLang } from "./i18n.js";

const body = document.body;
const bridge = `http://127.0.0.1:${body.dataset.bridgePort}`;
const startButton = document.getElementById("login-eid");
const pinForm = document.getElementById("pin-form");
const pinInput = document.getElementById("pin-input");
const pinpadHint = document.getElementById("pinpad-hint");
const submitButton = document.getElementById("login-submit");
const tlsButton = document.getElementById("login-tls"); // absent unless [eid] client_cert_header is set
const errorBox = document.getElementById("login-error");
const langSwitch = document.getElementById("lang-switch");
let pinpad = false;

function showError(error) {
  errorBox.textContent = errorText(error);
  errorBox.dataset.code = error.code || "internal";
  errorBox.hidden = false;
}

function clearError() {
  errorBox.hidden = true;
  errorBox.textContent = "";
  delete errorBox.dataset.code;
}

async function bridgeStatus() {
  const status = await api("GET", "/status", undefined, { base: bridge, timeoutMs: 5000 });
  if (!status.readers) throw new ApiError("no_reader", "no reader");
  if (!status.token_present) throw new ApiError("no_card", "no card");
  return status;
}

async function start() {
  clearError();
  startButton.disabled = true;
  try {
    const status = await bridgeStatus();
    pinpad = Boolean(status.pinpad);
    pinForm.hidden = false;
    pinInput.hidden = pinpad;
    pinInput.required = !pinpad;
    pinpadHint.hidden = !pinpad;
    if (pinpad) await login();
    else pinInput.focus();
  } catch (e) {
    showError(e);
  } finally {
    startButton.disabled = false;
  }
}

async function login() {
  clearError();
  submitButton.disabled = true;
  try {
    const { nonce } = await api("POST", "/api/login/challenge", {});
    const request = { nonce, origin: location.origin };
    if (!pinpad) request.pin = pinInput.value;
    // A PIN pad reader waits for the agent's fingers: give it a minute.
    const token = await api("POST", "/authenticate", request, { base: bridge, timeoutMs: pinpad ? 90000 : 30000 });
    await api("POST", "/api/login", token);
    // The login click was a user gesture: remember it so the desk may unlock audio for the ring tone.
    sessionStorage.setItem("audio-unlocked", "1");
    location.assign("/");
  } catch (e) {
    pinInput.value = "";
    showError(e);
    pinInput.focus();
  } finally {
    submitButton.disabled = false;
  }
}

async function loginTls() {
  clearError();
  tlsButton.disabled = true;
  try {
    await api("POST", "/api/login/tls", {});
    sessionStorage.setItem("audio-unlocked", "1");
    location.assign("/");
  } catch (e) {
    showError(e);
  } finally {
    tlsButton.disabled = false;
  }
}

startButton.addEventListener("click", start);
if (tlsButton) tlsButton.addEventListener("click", loginTls);
pinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  login();
});
langSwitch.addEventListener("change", async () => {
  await loadLang(langSwitch.value);
  if (!errorBox.hidden) showError({ code: errorBox.dataset.code });
});

const initial = await loadLang(pickLang(localStorage.getItem("lang") || body.dataset.lang));
langSwitch.value = initial;
body.dataset.ready = "1";
