// A queue's name for people, in the page's language, the same on every page (desk, wall, reports): a queue is
// configured by its id ("algemeen", "vaccinatie"); a known id has its name in the dictionaries
// (`phone.queue.<id>`), any other shows as it is. Ids stay ids where a program reads them (CSV, API, data-*).
import { t } from "./i18n.js";

export function queueName(name) {
  const key = `phone.queue.${name || "default"}`;
  const text = t(key);
  return text === key ? name : text;
}
