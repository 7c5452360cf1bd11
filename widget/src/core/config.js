// The embedded first-layer configuration (CFG, put in by the server), the server and the language.
var ME = document.currentScript;
export var SERVER = ME && ME.src ? new URL(ME.src).origin : location.origin;
// The nonce property survives the browser hiding the attribute; released scripts get it too.
export var NONCE = ME ? ME.nonce || ME.getAttribute('nonce') || '' : '';
export var SITE = CFG.site;
export var API = SERVER + '/api/v1/sites/' + encodeURIComponent(SITE);
// A preview (the admin's embed page) shows the layers but never stores or records a choice.
export var PREVIEW = ME && ME.hasAttribute('data-preview');
export var LOOK = CFG.appearance || {};
export var GPC = !!(CFG.honor_gpc && navigator.globalPrivacyControl === true);
// The regime the server chose for the visitor's region (docs/widget.md, "Regimes"): in
// `opt_out` and `notice` optional categories run until refused; anything else is `opt_in`.
export var RUNS = CFG.regime === 'opt_out' || CFG.regime === 'notice';

function pickLanguage() {
  var wanted = [ME && ME.getAttribute('data-lang'), document.documentElement.lang]
    .concat(navigator.languages || [navigator.language]);
  for (var i = 0; i < wanted.length; i++) {
    var lang = String(wanted[i] || '').toLowerCase().slice(0, 2);
    if (CFG.languages.indexOf(lang) >= 0) return lang;
  }
  return CFG.default_language;
}
export var LANG = pickLanguage();

export function gpcRefuses(c) { return GPC && c.gpc_refuses; }
