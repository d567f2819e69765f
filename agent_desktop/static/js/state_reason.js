// Why the desk put an agent in a state the agent did not choose (an offer left ringing sets `break` with reason
// `no_answer`, DESIGN.md §9), in the page's language; a reason the dictionaries do not know shows as it is.
import { t } from "./i18n.js";

export function stateReason(reason) {
  const key = `state.reason.${reason}`;
  const text = t(key);
  return text === key ? reason : text;
}
