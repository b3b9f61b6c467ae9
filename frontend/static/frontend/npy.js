// Reader for NumPy's .npy format (numpy.lib.format, versions 1.0-3.0), enough to preview
// job outputs in the browser: little-endian numeric dtypes, C order.

const DTYPES = {
  f4: Float32Array, f8: Float64Array,
  i1: Int8Array, i2: Int16Array, i4: Int32Array, i8: BigInt64Array,
  u1: Uint8Array, u2: Uint16Array, u4: Uint32Array, u8: BigUint64Array,
  b1: Uint8Array,
};

/** Parses an ArrayBuffer holding a .npy file into {dtype, shape, data}; `data` is a typed array
 * (64-bit integers come back as Float64Array so that callers can do arithmetic). */
export function parseNpy(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== "\x93NUMPY") throw new Error("not a .npy file");
  const major = bytes[6];
  const view = new DataView(buffer);
  let headerLen;
  let offset;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    offset = 10;
  } else if (major === 2 || major === 3) {
    headerLen = view.getUint32(8, true);
    offset = 12;
  } else {
    throw new Error(`unsupported .npy version ${major}`);
  }
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(offset, offset + headerLen));
  const { descr, fortranOrder, shape } = parseHeader(header);
  if (fortranOrder) throw new Error("Fortran-order arrays are not supported");
  const order = descr[0];
  const code = descr.slice(1);
  const Typed = DTYPES[code];
  if (!Typed) throw new Error(`unsupported dtype ${descr}`);
  if (order === ">" && Typed.BYTES_PER_ELEMENT > 1) throw new Error("big-endian arrays are not supported");
  const count = shape.reduce((a, b) => a * b, 1);
  const start = offset + headerLen;
  // Copy so that the typed array is aligned whatever the header length.
  const raw = buffer.slice(start, start + count * Typed.BYTES_PER_ELEMENT);
  if (raw.byteLength !== count * Typed.BYTES_PER_ELEMENT) throw new Error("truncated .npy data");
  let data = new Typed(raw);
  if (Typed === BigInt64Array || Typed === BigUint64Array) data = Float64Array.from(data, Number);
  return { dtype: descr, shape, data };
}

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }
function parseHeader(header) {
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error("bad .npy header");
  const dims = shape[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  return { descr: descr[1], fortranOrder: fortran[1] === "True", shape: dims };
}

/** Rows of a 2-D array [n, 2] as two columns [xs, ys], for a scatter plot. */
export function columns2d({ shape, data }) {
  if (shape.length !== 2 || shape[1] !== 2) throw new Error(`expected shape [n, 2], got [${shape}]`);
  const n = shape[0];
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = data[2 * i];
    ys[i] = data[2 * i + 1];
  }
  return [xs, ys];
}

/** What kind of preview an array allows: "scatter" ([n,2]), "images" ([n,h,w], [n,c,h,w] with
 * c in 1,3), "sequences" (integer [n, L] with values in 0..3, tokens A C G T), or null. */
export function previewKind({ shape, dtype, data }) {
  const integer = /[iub]/.test(dtype[1]);
  if (shape.length === 2 && shape[1] === 2 && !integer) return "scatter";
  if (shape.length === 2 && integer && data.every((v) => v >= 0 && v <= 4)) return "sequences";
  if (shape.length === 3 && shape[1] >= 4 && shape[2] >= 4) return "images";
  if (shape.length === 4 && (shape[1] === 1 || shape[1] === 3) && shape[2] >= 4) return "images";
  if (shape.length === 4 && (shape[3] === 1 || shape[3] === 3) && shape[1] >= 4) return "images";
  return null;
}

/** One image of a batch as RGBA bytes, scaled from the batch's own min..max (diffusion outputs
 * live in roughly [-1, 1] and digits in [0, 16], so a fixed range would be wrong for one of them). */
export function imageRGBA({ shape, data }, index) {
  let n, c, h, w, channelsLast;
  if (shape.length === 3) [n, h, w, c, channelsLast] = [shape[0], shape[1], shape[2], 1, false];
  else if (shape[1] === 1 || shape[1] === 3) [n, c, h, w, channelsLast] = [...shape, false];
  else [n, h, w, c, channelsLast] = [...shape, true];
  if (index >= n) throw new Error("index out of range");
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const out = new Uint8ClampedArray(h * w * 4);
  const base = index * c * h * w;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const px = (y * w + x) * 4;
      for (let k = 0; k < 3; k++) {
        const ch = c === 1 ? 0 : k;
        const i = channelsLast ? base + (y * w + x) * c + ch : base + ch * h * w + y * w + x;
        out[px + k] = (data[i] - lo) * scale;
      }
      out[px + 3] = 255;
    }
  }
  return { width: w, height: h, rgba: out };
}
