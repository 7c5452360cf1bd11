// The first layer: a non-modal dialog named for the site; Accept all and Reject all look the same.
// Where the regime lets optional categories run (opt_out, notice) it is a notice instead: what
// runs, Reject all, Customize and Close (which records a dismissal).
import { LANG, LOOK, RUNS } from '../core/config.js';
import { T, local } from '../core/texts.js';
import { h } from '../utils/dom.js';
import { button, disclosureUrl, ui } from './root.js';
import { showPreferences } from '../core/parts.js';
import { acceptAll, dismiss, rejectAll } from '../core/api.js';
import '../../styles/banner.css';

var banner = null;
// `alert`: a message shown in the banner (the preferences could not be loaded).
export function showBanner(alert) {
  if (!banner) {
    banner = h('dialog', { class: 'pc-banner pc-' + LOOK.layout + ' pc-' + LOOK.position, lang: LANG, 'aria-labelledby': 'pc-banner-title' }, [
      h('div', { class: 'pc-text' }, [
        h('h2', { id: 'pc-banner-title', text: local(CFG.name) }),
        h('p', { text: RUNS ? T.runs : local(CFG.notice) || T.body }),
        h('a', { href: disclosureUrl(), target: '_blank', rel: 'noopener', text: T.details })
      ]),
      h('div', { class: 'pc-actions' }, [
        RUNS ? null : button(T.accept, acceptAll), button(T.reject, rejectAll),
        button(T.custom, function () { showPreferences(); }, 'pc-btn pc-alt')
      ]),
      RUNS ? button('×', dismiss, 'pc-close', T.close) : null
    ]);
    ui().append(banner);
  }
  if (alert && !banner.querySelector('[role=alert]')) {
    banner.firstChild.append(h('p', { class: 'pc-note', role: 'alert', text: alert }));
  }
  // `open` rather than show(): the banner must not take focus from the page.
  banner.open = true;
}
export function hideBanner() { if (banner) banner.open = false; }
