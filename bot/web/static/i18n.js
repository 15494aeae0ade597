// Interface strings, Traditional Chinese first. The assistant's own replies come from the
// server in the language the page asks for (metadata.lang).
export const STRINGS = {
  zh: {
    skip: "跳到輸入框", title: "便民一路通", subtitle: "高雄市民服務小幫手：用您自己的話說，我幫您找對的單位。",
    humanNav: "真人服務", handoff: "轉真人客服", call1999: "撥打1999", emergency: "緊急請撥",
    logLabel: "對話紀錄", toolsLabel: "附加照片或位置", photo: "附上照片", locate: "使用我的位置",
    photoHint: "JPG、PNG、GIF、WebP，10 MB 以內", addressLabel: "或輸入地址／地點", addressPh: "例如：三民區建工路 415 號前",
    addressSend: "送出地址", inputLabel: "輸入訊息", inputPh: "例如：巷口路燈不亮", send: "送出",
    privacy: "對話會暫存在這台裝置，方便重新整理後繼續；不需登入。", clear: "清除這台裝置上的對話",
    me: "您", bot: "小幫手", person: "真人客服", system: "系統",
    modeBot: "現在為您服務：小幫手（自動回覆）", modeQueued: "等候真人客服中，服務人員會在這裡回覆您",
    modePerson: "現在為您服務：真人客服（1999 服務人員）", back: "回到小幫手",
    welcome: "您好，我是便民一路通小幫手。請用一句話告訴我您遇到的狀況或想問的事，例如「巷口路燈不亮」「我28歲想創業有補助嗎」。",
    netError: "連線中斷，請稍後再試；急事請撥打 1999。", error: "發生錯誤，請稍後再試或撥打 1999。",
    badType: "只能上傳 JPG、PNG、GIF 或 WebP 照片。", tooBig: "照片超過 10 MB，請換一張較小的照片。",
    uploading: "照片上傳中…", photoSent: "[照片]", locating: "正在取得您的位置…",
    noGeo: "無法取得您的位置，請在下方輸入地址或地點。", myLocation: "📍 已分享位置",
    compare: "加入比較", compared: "已加入比較", compareNow: "比較所選方案", compareNeed: "請至少選 2 個方案再比較。",
    compareTitle: "方案比較", amount: "金額", reason: "符合原因", deadline: "期限", status: "狀態", howTo: "申請方式",
    provider: "主辦", open: "受理中", closed: "已截止", upcoming: "尚未開放", unknown: "期間未定", caseNo: "案件編號", service: "項目", place: "地點",
    caseDraft: "通報內容（尚未送出）", caseCard: "案件", callNow: "立即撥打", handledBy: "承辦",
    clearConfirm: "要清除這台裝置上的對話紀錄嗎？", cleared: "已清除。",
  },
  en: {
    skip: "Skip to the message box", title: "Bianmin Yilutong", subtitle: "Kaohsiung city-service assistant: say it in your own words and I will find the right office.",
    humanNav: "Talk to a person", handoff: "Talk to a person", call1999: "Call 1999", emergency: "Emergency:",
    logLabel: "Conversation", toolsLabel: "Add a photo or a place", photo: "Add a photo", locate: "Use my location",
    photoHint: "JPG, PNG, GIF, WebP, up to 10 MB", addressLabel: "Or type an address / place", addressPh: "e.g. 415 Jiangong Rd, Sanmin",
    addressSend: "Send address", inputLabel: "Your message", inputPh: "e.g. The street light at my corner is out", send: "Send",
    privacy: "The conversation is kept on this device so a reload continues it; no sign-in needed.", clear: "Clear the conversation on this device",
    me: "You", bot: "Assistant", person: "Operator (person)", system: "System",
    modeBot: "You are talking to: the assistant (automatic replies)", modeQueued: "Waiting for a person; an operator will answer here",
    modePerson: "You are talking to: a person (1999 operator)", back: "Back to the assistant",
    welcome: "Hello, I am the city-service assistant. Tell me in one sentence what happened or what you need, e.g. 'the street light at my corner is out'.",
    netError: "Connection lost. Please try again; for urgent matters call 1999.", error: "Something went wrong. Please try again or call 1999.",
    badType: "Only JPG, PNG, GIF or WebP photos can be uploaded.", tooBig: "The photo is over 10 MB; please choose a smaller one.",
    uploading: "Uploading photo…", photoSent: "[photo]", locating: "Finding your location…",
    noGeo: "Your location is not available. Please type an address or place below.", myLocation: "📍 Location shared",
    compare: "Add to comparison", compared: "Added", compareNow: "Compare selected", compareNeed: "Choose at least 2 programmes to compare.",
    compareTitle: "Comparison", amount: "Amount", reason: "Why it fits", deadline: "Deadline", status: "Status", howTo: "How to apply",
    provider: "Provider", open: "Open", closed: "Closed", upcoming: "Not open yet", unknown: "Dates not stated", caseNo: "Case number", service: "Service", place: "Place",
    caseDraft: "Report (not sent yet)", caseCard: "Case", callNow: "Call now", handledBy: "Handled by",
    clearConfirm: "Clear the conversation stored on this device?", cleared: "Cleared.",
  },
};

export function t(lang, key) {
  return (STRINGS[lang] && STRINGS[lang][key]) ?? STRINGS.zh[key] ?? key;
}

// Fill every [data-i18n] element's text and [data-i18n-attr="attr:key,..."] attributes.
export function applyStrings(lang, root = document) {
  document.documentElement.lang = lang === "en" ? "en" : "zh-Hant-TW";
  document.title = lang === "en" ? "Bianmin Yilutong | Kaohsiung city-service assistant" : "便民一路通｜高雄市民服務小幫手";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(lang, el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(",")) {
      const [attr, key] = pair.split(":");
      el.setAttribute(attr, t(lang, key));
    }
  }
}
