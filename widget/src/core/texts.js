// The first layer's own words in Japanese and English; the site's `notice` replaces `body`.
// The preferences' words come with them (src/modals/preferences-texts.js).
import { LANG } from './config.js';

var TEXTS = {
  en: {
    body: 'We use cookies and send information about your visit to other companies for features, analytics and advertising. You choose what is allowed, and you can change it at any time.',
    accept: 'Accept all', reject: 'Reject all', custom: 'Customize', details: 'What is sent to whom',
    failed: 'The details could not be loaded. Please try again later.'
  },
  ja: {
    body: '当サイトでは、便利な機能、利用状況の分析、広告のためにCookieを使用し、閲覧に関する情報を外部の事業者に送信します。許可する範囲はお客様が選べ、いつでも変更できます。',
    accept: 'すべて同意する', reject: 'すべて拒否する', custom: '詳細設定', details: '外部送信の内容（送信先・情報・目的）',
    failed: '詳細を読み込めませんでした。時間をおいてもう一度お試しください。'
  }
};
export var T = TEXTS[LANG] || TEXTS.en;
export function local(texts) { return texts ? texts[LANG] || texts[CFG.default_language] || '' : ''; }
