// The first layer's own words in Japanese and English; the site's `notice` replaces `body`.
// `runs` is the notice of the opt_out and notice regimes, where optional categories run until
// refused; in `notice` (Japan's 外部送信) the disclosure link says `about`.
// The preferences' words come with them (src/modals/preferences-texts.js).
import { LANG } from './config.js';

var TEXTS = {
  en: {
    body: 'We use cookies and send information about your visit to other companies for features, analytics and advertising. You choose what is allowed, and you can change it at any time.',
    accept: 'Accept all', reject: 'Reject all', custom: 'Customize', details: 'What is sent to whom',
    failed: 'The details could not be loaded. Please try again later.', close: 'Close',
    runs: 'This site sends information about your visit to other companies for features, analytics and advertising. You can refuse this at any time.',
    about: 'About external transmission'
  },
  ja: {
    body: '当サイトでは、便利な機能、利用状況の分析、広告のためにCookieを使用し、閲覧に関する情報を外部の事業者に送信します。許可する範囲はお客様が選べ、いつでも変更できます。',
    accept: 'すべて同意する', reject: 'すべて拒否する', custom: '詳細設定', details: '外部送信の内容（送信先・情報・目的）',
    failed: '詳細を読み込めませんでした。後でもう一度お試しください。', close: '閉じる',
    runs: '当サイトは、便利な機能、利用状況の分析、広告のために、閲覧に関する情報を外部の事業者に送信しています。この送信はいつでも拒否できます。',
    about: '外部送信について'
  }
};
export var T = TEXTS[LANG] || TEXTS.en;
if (CFG.regime === 'notice') T.details = T.about;
export function local(texts) { return texts ? texts[LANG] || texts[CFG.default_language] || '' : ''; }
