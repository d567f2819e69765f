// The table cell the supervisor's pages build their rows from (wall, complaints, helpdesk).

// A <td> holding `text` (none: empty), with `className` if given.
export function cell(text = "", className = "") {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}
