// A queue's name for people, in the page's language, the same on every page (desk, wall, reports): a queue is
// configured by its id ("algemeen", "vaccinatie"). A centre names its own queues in the config (`label` in
// `[[queues]]`), which the desk sends to the pages (hello, the wall, GET /api/queues) and they give here; a label
// in the page's language wins, else its Dutch one, else a known id's name in the dictionaries
// (`phone.queue.<id>`), else the id as it is. Ids stay ids where a program reads them (CSV, API, data-*).
import { lang, t } from "./i18n.js";

const labels = new Map(); // id → {nl, fr, en, …}

// Queues' labels as the desk sends them: {id: {lang: text}} or [{name, label}]; empty labels are forgotten.
export function setQueueLabels(found) {
  const pairs = Array.isArray(found) ? found.map((q) => [q.name, q.label]) : Object.entries(found || {});
  for (const [id, label] of pairs) {
    if (label && Object.keys(label).length) labels.set(id, label);
    else labels.delete(id);
  }
}

export function queueName(name) {
  const label = labels.get(name);
  if (label?.[lang()] || label?.nl) return label[lang()] || label.nl;
  const key = `phone.queue.${name || "default"}`;
  const text = t(key);
  return text === key ? name : text;
}
