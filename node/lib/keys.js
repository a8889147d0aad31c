'use strict';
// Options objects are checked for keys nobody reads: a misspelt or snake_case key would
// otherwise be ignored in silence and its default used instead.
const { IPCError, Status } = require('./native');

function distance(a, b) {
  // Levenshtein, over two short words.
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

// max_frame_size, MaxFrameSize and maxframesize all mean maxFrameSize.
const fold = (key) => key.toLowerCase().replace(/[_-]/g, '');

/** The known key nearest to `key`. */
function nearest(key, known) {
  let best = known[0];
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(fold(key), fold(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Throws E_INVALID_ARGUMENT naming the first key of `options` not in `known`, and the nearest known one. */
function checkKeys(what, options, known) {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new IPCError(`unknown ${what} key '${key}': did you mean '${nearest(key, known)}'? ` +
        `(known: ${known.join(', ')})`, Status.E_INVALID_ARGUMENT);
    }
  }
}

module.exports = { checkKeys, nearest };
