// The top bar's logout on the pages other than the desk (the desk wires its own: it also closes its socket and
// checks for an unsaved wrap-up first).
import { api } from "./api.js";

export function wireLogout() {
  document.getElementById("logout")?.addEventListener("click", async () => {
    try {
      await api("POST", "/api/logout", {});
    } finally {
      location.assign("/");
    }
  });
}
