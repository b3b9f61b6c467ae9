// Sequence logo (Schneider & Stephens, "Sequence logos: a new way to display consensus
// sequences", NAR 1990): at each position the stack height is the information content
// R_i = log2(4) - (H_i + e_n), split between the bases in proportion to their frequency.

export const BASES = ["A", "C", "G", "T"];

/** DNA sequences from an artifact: FASTA or one sequence per line, or integer tokens 0..3. */
export function sequencesFromText(text) {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith(">"))
    .map((l) => l.toUpperCase());
}

export function sequencesFromTokens({ shape, data }) {
  const [n, len] = shape;
  const out = [];
  for (let i = 0; i < n; i++) {
    let s = "";
    for (let j = 0; j < len; j++) s += BASES[data[i * len + j]] ?? "N";
    out.push(s);
  }
  return out;
}

/** Per position: counts of A, C, G, T (other letters are skipped). */
export function baseCounts(sequences) {
  const len = Math.max(0, ...sequences.map((s) => s.length));
  const counts = Array.from({ length: len }, () => [0, 0, 0, 0]);
  for (const s of sequences) {
    for (let i = 0; i < s.length; i++) {
      const b = BASES.indexOf(s[i]);
      if (b >= 0) counts[i][b]++;
    }
  }
  return counts;
}

/** Per position: [{base, height}] in bits, smallest first (drawn bottom-up, tallest on top).
 * e_n = (s - 1) / (2 ln 2 n) with s = 4 is the small-sample correction of the paper. */
export function logoHeights(counts) {
  return counts.map((c) => {
    const n = c[0] + c[1] + c[2] + c[3];
    if (n === 0) return [];
    const f = c.map((k) => k / n);
    const entropy = -f.reduce((acc, p) => acc + (p > 0 ? p * Math.log2(p) : 0), 0);
    const en = 3 / (2 * Math.LN2 * n);
    const r = Math.max(0, 2 - (entropy + en));
    return BASES.map((base, i) => ({ base, height: f[i] * r }))
      .filter((x) => x.height > 0)
      .sort((a, b) => a.height - b.height);
  });
}

const COLORS = { A: "#109648", C: "#255c99", G: "#f7b32b", T: "#d62839" };

/** An SVG element drawing the logo (glue: letters as text scaled to their height). */
export function logoSvg(doc, heights, { colWidth = 14, height = 80 } = {}) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = doc.createElementNS(ns, "svg");
  const width = heights.length * colWidth;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "sequence logo, 2 bits full height");
  const bitPx = height / 2;
  heights.forEach((stack, i) => {
    let y = height;
    for (const { base, height: h } of stack) {
      const px = h * bitPx;
      if (px < 0.5) continue;
      const t = doc.createElementNS(ns, "text");
      // Cap height of a sans-serif letter is ~0.72 em: scale y so the glyph fills `px`.
      t.setAttribute("transform", `translate(${i * colWidth},${y}) scale(1,${px / (colWidth * 0.72)})`);
      t.setAttribute("font-size", String(colWidth));
      t.setAttribute("font-family", "sans-serif");
      t.setAttribute("font-weight", "bold");
      t.setAttribute("textLength", String(colWidth));
      t.setAttribute("lengthAdjust", "spacingAndGlyphs");
      t.setAttribute("fill", COLORS[base]);
      t.textContent = base;
      svg.appendChild(t);
      y -= px;
    }
  });
  return svg;
}
