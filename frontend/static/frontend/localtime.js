// Shows server timestamps (<time datetime="ISO">) in the reader's own time zone.
const pad = (n) => String(n).padStart(2, "0");

export function localStamp(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

for (const el of document.querySelectorAll("time[datetime]")) {
  const d = new Date(el.getAttribute("datetime"));
  if (!Number.isNaN(d.getTime())) {
    el.title = el.getAttribute("datetime");
    el.textContent = localStamp(d);
  }
}
