// Validate TeX math fragments with KaTeX and MathJax 3, fully offline.
//
// stdin:  JSON array of {"tex": "...", "display": true|false}
// stdout: JSON array of {"index": i, "engine": "katex"|"mathjax", "error": "..."}
//         for every failure ([] if everything renders).
// Exit 0 whether or not fragments fail; non-zero only if this script breaks
// (bad input, missing node_modules, ...).

import katex from 'katex';
import {mathjax} from 'mathjax-full/js/mathjax.js';
import {TeX} from 'mathjax-full/js/input/tex.js';
import {liteAdaptor} from 'mathjax-full/js/adaptors/liteAdaptor.js';
import {RegisterHTMLHandler} from 'mathjax-full/js/handlers/html.js';
import {STATE} from 'mathjax-full/js/core/MathItem.js';
// Registers every TeX package configuration; we choose which ones to enable below.
import 'mathjax-full/js/input/tex/AllPackages.js';

// The packages a stock MathJax 3 page (tex-chtml.js / tex-svg.js) accepts:
// its defaults plus everything its `autoload` package loads on demand.
// Deliberately absent: `noundefined` (renders unknown macros in red instead of
// failing) and `noerrors` (shows the raw TeX instead of an error), so both
// kinds of mistake surface as <merror> nodes we can detect. Also absent:
// `bussproofs` (proof trees), which refuses to run without an output jax.
const MATHJAX_PACKAGES = [
  'base', 'ams', 'newcommand', 'configmacros',
  'action', 'amscd', 'bbox', 'boldsymbol', 'braket', 'cancel',
  'color', 'enclose', 'extpfeil', 'html', 'mhchem', 'unicode', 'verb',
];

function katexError(tex, display) {
  const untrusted = [];
  try {
    katex.renderToString(tex, {
      displayMode: display,
      throwOnError: true,
      // 'error' turns every LaTeX-incompatibility (unknown Unicode symbols,
      // comment at end, ...) into an exception; unknown commands always throw.
      strict: 'error',
      // Untrusted commands (\href, \includegraphics, ...) are otherwise
      // silently drawn in red; record them so they count as failures.
      trust: (ctx) => { untrusted.push(ctx.command); return false; },
    });
  } catch (e) {
    // rawMessage + position avoids the combining-underline excerpt in e.message.
    if (e instanceof katex.ParseError) {
      return e.position === undefined ? e.rawMessage : `${e.rawMessage} (at position ${e.position + 1})`;
    }
    return String(e.message ?? e);
  }
  return untrusted.length ? `untrusted command(s): ${untrusted.join(', ')}` : null;
}

RegisterHTMLHandler(liteAdaptor());

function mathjaxError(tex, display) {
  // A fresh document per fragment: \newcommand definitions and \label's would
  // otherwise leak between fragments, hiding errors (or inventing duplicates).
  const doc = mathjax.document('', {InputJax: new TeX({packages: MATHJAX_PACKAGES})});
  let root;
  try {
    // Stop after TeX -> internal MathML; no output jax needed to find errors.
    root = doc.convert(tex, {display, end: STATE.CONVERT});
  } catch (e) {
    return String(e.message ?? e);
  }
  // TeX errors do not throw: the input jax replaces the formula with
  // <merror data-mjx-error="message">. Collect every such node.
  const messages = [];
  root.walkTree((node) => {
    if (node.isKind('merror')) {
      messages.push(node.attributes.get('data-mjx-error') || 'merror');
    }
  });
  return messages.length ? messages.join('; ') : null;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

const fragments = JSON.parse(await readStdin());
if (!Array.isArray(fragments)) throw new TypeError('stdin must be a JSON array');

const failures = [];
fragments.forEach((frag, index) => {
  if (typeof frag?.tex !== 'string') throw new TypeError(`item ${index}: "tex" must be a string`);
  const display = Boolean(frag.display);
  for (const [engine, check] of [['katex', katexError], ['mathjax', mathjaxError]]) {
    const error = check(frag.tex, display);
    if (error !== null) failures.push({index, engine, error});
  }
});
process.stdout.write(JSON.stringify(failures) + '\n');
