// The top bar's logout and language switch on the pages other than the desk (the desk wires its own: it also
// closes its socket and checks for an unsaved wrap-up first).
import { api } from "./api.js";
import { loadLang } from "./i18n.js";

// Loads the page's language, then follows the switch and remembers the choice on the agent's profile.
export async function wireLangSwitch(initial) {
  const langSwitch = document.getElementById("lang-switch");
  langSwitch.value = await loadLang(initial);
  langSwitch.addEventListener("change", async () => {
    await loadLang(langSwitch.value);
    api("PATCH", "/api/me", { lang: langSwitch.value }).catch(() => {});
  });
}

export function wireLogout() {
  document.getElementById("logout")?.addEventListener("click", async () => {
    try {
      await api("POST", "/api/logout", {});
    } finally {
      location.assign("/");
    }
  });
}
