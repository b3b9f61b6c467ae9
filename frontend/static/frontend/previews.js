// Artifact previews on the job page: PNG/JPEG shown, .npy drawn (2-D samples as a scatter,
// image batches as a grid, DNA tokens as text + logo), sequence text files as text + logo.
import { parseNpy, previewKind, columns2d, imageRGBA } from "./npy.js";
import { sequencesFromText, sequencesFromTokens, baseCounts, logoHeights, logoSvg } from "./logo.js";
import { scatterPlot } from "./charts.js";
import { h } from "./api.js";

const MAX_PREVIEW_BYTES = 32 * 1024 * 1024;
const MAX_GRID = 64;
const MAX_SEQ_LINES = 20;

function figure(artifact, kind, ...body) {
  return h("figure", { class: `preview preview-${kind}`, "data-artifact": artifact.id },
    h("figcaption", {}, artifact.name), ...body);
}

/** The artifact's bytes for a preview: the audit log tells these reads from downloads. */
export function previewUrl(artifact) {
  return artifact.url + (artifact.url.includes("?") ? "&" : "?") + "preview=1";
}

/** A preview element for an artifact, or null when there is nothing to show. */
export async function previewFor(artifact) {
  const name = artifact.name.toLowerCase();
  if (/\.(png|jpe?g|gif|webp)$/.test(name)) {
    return figure(artifact, "image", h("img", { src: previewUrl(artifact), alt: artifact.name, loading: "lazy" }));
  }
  if (artifact.size > MAX_PREVIEW_BYTES) return null;
  if (name.endsWith(".npy")) return npyPreview(artifact);
  if (artifact.kind === "sequences" || /\.(fa|fasta|seq)$/.test(name)) {
    const text = await (await fetch(previewUrl(artifact), { credentials: "same-origin" })).text();
    return sequencePreview(artifact, sequencesFromText(text));
  }
  return null;
}

async function npyPreview(artifact) {
  const response = await fetch(previewUrl(artifact), { credentials: "same-origin" });
  if (!response.ok) return null;
  const array = parseNpy(await response.arrayBuffer());
  const kind = previewKind(array);
  if (kind === "scatter") {
    const [xs, ys] = columns2d(array);
    const fig = figure(artifact, "scatter");
    const plot = h("div", { class: "scatter", role: "img", "aria-label": `scatter plot of ${xs.length} samples` });
    fig.append(plot, h("p", { class: "muted" }, xs.length > 5000 ? `first 5000 of ${xs.length} points` : `${xs.length} points`));
    // uPlot measures its container: draw once the figure is in the page.
    fig.draw = () => scatterPlot(plot, xs, ys, artifact.name);
    return fig;
  }
  if (kind === "images") {
    const n = Math.min(array.shape[0], MAX_GRID);
    const grid = h("div", { class: "image-grid", role: "img", "aria-label": `${n} of ${array.shape[0]} images` });
    for (let i = 0; i < n; i++) {
      const { width, height, rgba } = imageRGBA(array, i);
      const canvas = h("canvas", { width, height });
      canvas.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
      grid.append(canvas);
    }
    return figure(artifact, "images", grid);
  }
  if (kind === "sequences") return sequencePreview(artifact, sequencesFromTokens(array));
  return figure(artifact, "array", h("p", { class: "muted" }, `array ${array.dtype} [${array.shape.join(", ")}]`));
}

function sequencePreview(artifact, sequences) {
  const logo = logoSvg(document, logoHeights(baseCounts(sequences)));
  const text = h("pre", { class: "sequences", tabindex: "0", "aria-label": "sequences" },
    sequences.slice(0, MAX_SEQ_LINES).join("\n") + (sequences.length > MAX_SEQ_LINES ? `\n… ${sequences.length - MAX_SEQ_LINES} more` : ""));
  return figure(artifact, "sequences", h("div", { class: "logo-wrap" }, logo), text);
}
