// The widget's own words in Japanese and English; the site's `notice` replaces the first layer's text.
var TEXTS = {
  en: {
    body: 'We use cookies and send information about your visit to other companies for features, analytics and advertising. You choose what is allowed, and you can change it at any time.',
    accept: 'Accept all', reject: 'Reject all', custom: 'Customize', save: 'Save choices',
    details: 'What is sent to whom', prefs: 'Privacy preferences', close: 'Close',
    always: 'Always on', recipient: 'Recipient', country: 'Country', data: 'Data sent',
    purpose: 'Purpose', policy: 'Privacy policy', optout: 'Opt out', vendors: 'Companies',
    loading: 'Loading…', failed: 'The details could not be loaded. Please try again later.',
    gpc: 'Your browser sends Global Privacy Control, so this stays off.',
    id: 'Your consent id', receipt: 'See or withdraw your recorded choices'
  },
  ja: {
    body: '当サイトでは、便利な機能、利用状況の分析、広告のためにCookieを使用し、閲覧に関する情報を外部の事業者に送信します。許可する範囲はお客様が選べ、いつでも変更できます。',
    accept: 'すべて同意する', reject: 'すべて拒否する', custom: '詳細設定', save: '選択を保存',
    details: '外部送信の内容（送信先・情報・目的）', prefs: 'プライバシー設定', close: '閉じる',
    always: '常に有効', recipient: '送信先', country: '国', data: '送信される情報',
    purpose: '利用目的', policy: 'プライバシーポリシー', optout: 'オプトアウト', vendors: '送信先の事業者',
    loading: '読み込み中…', failed: '詳細を読み込めませんでした。時間をおいてもう一度お試しください。',
    gpc: 'ブラウザがグローバル・プライバシー・コントロール（GPC）を送信しているため、この項目は無効のままです。',
    id: 'あなたの同意ID', receipt: '記録された選択の確認・撤回'
  }
};
var T = TEXTS[LANG] || TEXTS.en;
function local(texts) { return texts ? texts[LANG] || texts[CFG.default_language] || '' : ''; }
