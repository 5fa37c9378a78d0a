// HTML of the simulated DingTalk login: no scripts, no external resources, so it works without JS
// and under a `default-src 'none'` policy.

export interface LoginChoice {
  userid: string;
  name: string;
  /** e.g. "研发中心/平台组", "外部联系人 · external contact". */
  where: string;
}

export interface LoginPageModel {
  appKey: string;
  /** The request's own parameters, posted back as hidden fields. */
  hidden: Record<string, string>;
  /** Relative form action, so the page works wherever the sandbox is mounted. */
  action: string;
  choices: LoginChoice[];
}

export const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;background:#f2f5f8;margin:0}
main{max-width:34rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;color:#0089ff}small{color:#666;font-weight:normal}ul{list-style:none;padding:0}
li{margin:.4rem 0}button{width:100%;padding:.6rem;font-size:1rem;border:1px solid #0089ff;border-radius:4px;background:#fff;cursor:pointer;text-align:left}
button:hover{background:#e6f3ff}button.deny{border-color:#999;color:#555;text-align:center}code{background:#eee;padding:0 .2rem}`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>`;
}

export function renderLoginPage(model: LoginPageModel): string {
  const hidden = Object.entries(model.hidden)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('\n');
  const buttons = model.choices
    .map((c) => {
      const label = `${c.name} (${c.where})`;
      return `<li><button type="submit" name="userid" value="${escapeHtml(c.userid)}">以 ${escapeHtml(label)} 登录 · sign in as ${escapeHtml(label)}</button></li>`;
    })
    .join('\n');
  return layout(
    '钉钉登录（沙箱）· DingTalk sign-in (sandbox)',
    `<h1>钉钉登录（沙箱）<small>DingTalk sign-in (sandbox)</small></h1>
<p>应用 <code>${escapeHtml(model.appKey)}</code> 请求获取你的身份信息。请选择登录的员工。<br>
The app <code>${escapeHtml(model.appKey)}</code> asks for your identity. Choose who signs in.</p>
<form method="post" action="${escapeHtml(model.action)}">
${hidden}
<ul>
${buttons}
</ul>
<button class="deny" type="submit" name="deny" value="1">拒绝授权 · deny</button>
</form>`,
  );
}

export function renderErrorPage(reason: string): string {
  return layout(
    '参数错误 · Invalid request',
    `<h1>参数错误 <small>Invalid request</small></h1>
<p>登录请求无效，无法继续。<br>This sign-in request is invalid and cannot continue.</p>
<p><code>${escapeHtml(reason)}</code></p>`,
  );
}

export interface AppPageModel {
  /** Where to go once signed in to the app (a path of this site). */
  next: string;
  people: { userid: string; name: string }[];
  /** Who is signed in now, if anyone. */
  current?: string;
}

/** The simulated DingTalk app's sign-in: who the stand-in JSAPI (dingtalk-app.ts) answers for. */
export function renderAppPage(model: AppPageModel): string {
  const buttons = model.people
    .map(
      (p) =>
        `<li><button type="submit" name="userid" value="${escapeHtml(p.userid)}">以 ${escapeHtml(p.name)} 打开 · open as ${escapeHtml(p.name)}${
          p.userid === model.current ? ' ✓' : ''
        }</button></li>`,
    )
    .join('\n');
  return layout(
    '钉钉应用（沙箱）· DingTalk app (sandbox)',
    `<h1>钉钉应用（沙箱）<small>DingTalk app (sandbox)</small></h1>
<p>选择登录钉钉客户端的员工，然后像在钉钉工作台中一样打开应用：应用会通过 requestAuthCode 免登。<br>
Choose who is signed in to the DingTalk app, then open the application as from the DingTalk workbench: it signs in with requestAuthCode, without a sign-in page.</p>
<form method="post" action="dingtalk-app">
<input type="hidden" name="next" value="${escapeHtml(model.next)}">
<ul>
${buttons}
<li><button type="submit" name="userid" value="deny">拒绝授权 · refuse the sign-in code</button></li>
</ul>
<button class="deny" type="submit">退出钉钉应用（普通浏览器）· leave the DingTalk app (plain browser)</button>
</form>`,
  );
}
