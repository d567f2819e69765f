// Why an outbound call never reached the number's phone (the desk's `failure`: no_route, unresolved, no_media,
// no_response, refused with the SIP status), in the agent's language: the phone panel, the call-order panel and
// the supervisor's list of orders say it the same way. The network's failure counts no attempt (CONTRACT.md).
import { t } from "./i18n.js";

const KNOWN = ["no_route", "unresolved", "no_media", "no_response", "refused"];

export function dialFailureText(failure, sipStatus) {
  if (!KNOWN.includes(failure)) return t("phone.cause.failed");
  return t(`phone.failure.${failure}`, { status: sipStatus ?? "" });
}

// An order's `dial_failure` as stored ("unresolved", "refused 503").
export function storedDialFailureText(stored) {
  const [failure, status] = String(stored).split(" ");
  return dialFailureText(failure, status);
}

// The trunk watch's last failure (`reason` of the wall's `outbound_failing`: "no_response", "refused 503"), said
// of the trunk as a whole for the supervisor; never the bare code.
export function trunkFailureText(stored) {
  const [failure, status] = String(stored ?? "").split(" ");
  if (failure === "refused") return status ? t("wall.trunk.refused", { status }) : t("wall.trunk.refused_bare");
  return t(`wall.trunk.${KNOWN.includes(failure) ? failure : "other"}`);
}
