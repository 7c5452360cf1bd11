// The preferences' own words in Japanese and English (the buttons' and Close are the first layer's, T).
import { LANG } from '../core/config.js';

var PREF_TEXTS = {
  en: {
    save: 'Save choices', prefs: 'Privacy preferences', always: 'Always on',
    recipient: 'Recipient', data: 'Data sent', purpose: 'Purpose', policy: 'Privacy policy',
    optout: 'Opt out', vendors: 'Companies', loading: 'Loading…',
    gpc: 'Your browser sends Global Privacy Control, so this stays off.',
    id: 'Your consent id', receipt: 'See or withdraw your recorded choices'
  },
  ja: {
    save: '選択を保存', prefs: 'プライバシー設定', always: '常に有効',
    recipient: '送信先', data: '送信される情報', purpose: '利用目的', policy: 'プライバシーポリシー',
    optout: 'オプトアウト', vendors: '送信先の事業者', loading: '読み込み中…',
    gpc: 'ブラウザがグローバル・プライバシー・コントロール（GPC）を送信しているため、この項目は無効のままです。',
    id: 'あなたの同意ID', receipt: '記録された選択の確認・撤回'
  }
};
export var P = PREF_TEXTS[LANG] || PREF_TEXTS.en;
