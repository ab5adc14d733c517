/** Reading valgrind callgrind dumps for `npm run bench:nginx-instructions` (nginx-instructions.mjs). */

/**
 * Self cost (the first event, Ir) per function of a callgrind dump's text. Callgrind names each function once as
 * `fn=(id) name` and later as `fn=(id)`; a cost line right after `calls=` is the callee's inclusive cost and is not
 * the caller's own, so it is skipped.
 * @param {string} text
 * @returns {Map<string, number>}
 */
export function selfCost(text) {
  const names = new Map();
  const cost = new Map();
  let fn;
  let skip = false;
  for (const line of text.split('\n')) {
    const named = /^c?fn=\((\d+)\)(?: (.*))?$/.exec(line);
    if (named) {
      if (named[2]) names.set(named[1], named[2]);
      if (line.startsWith('fn=')) fn = names.get(named[1]) ?? named[1];
      continue;
    }
    if (line.startsWith('calls=')) {
      skip = true;
      continue;
    }
    if (/^[\d+\-*]/.test(line)) {
      if (skip) skip = false;
      else if (fn) cost.set(fn, (cost.get(fn) ?? 0) + Number(line.split(' ')[1] ?? 0));
    }
  }
  return cost;
}
