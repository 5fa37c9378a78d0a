// The simulated organisation the sandbox DingTalk serves. Field names are ours (camelCase);
// the routes translate them into DingTalk's wire shapes.

export interface SandboxDepartment {
  deptId: number;
  name: string;
  /** Absent for the root department (id 1). */
  parentId?: number;
  order?: number;
  managerUserids?: string[];
}

export interface SandboxPerson {
  userid: string;
  /** Stable per developer account; what users/me returns and getbyunionid takes. */
  unionId: string;
  openId: string;
  name: string;
  /** The organisation the person works for; defaults to the sandbox org's corpId. */
  corpId?: string;
  /** false: left the organisation (getbyunionid → 60121) but the DingTalk account still signs in. */
  member?: boolean;
  /** 0 internal employee (default), 1 external contact. */
  contactType?: 0 | 1;
  deptIds: number[];
  /** Departments this person leads. */
  leaderOf?: number[];
  jobNumber?: string;
  title?: string;
  /** Enterprise mailbox (v2/user/get `org_email`). */
  orgEmail?: string;
  /** Personal mail (users/me `email`, v2/user/get `email`). */
  email?: string;
  /** Country code without "+", e.g. "86". */
  stateCode?: string;
  /** National number, e.g. "13800000001". */
  mobile?: string;
  avatarUrl?: string;
  managerUserid?: string;
  admin?: boolean;
  boss?: boolean;
  hiredDate?: number;
}

export interface SandboxOrg {
  corpId: string;
  name: string;
  /** Includes the root department (id 1). */
  departments: SandboxDepartment[];
  people: SandboxPerson[];
}

export const SANDBOX_CORP_ID = 'dingsandbox0001';
/** corpId of the organisation `sampleUserids.otherOrg` works for. */
export const SANDBOX_OTHER_CORP_ID = 'dingsandbox0002';
export const SANDBOX_APP_KEY = 'dingsandboxappkey';
export const SANDBOX_APP_SECRET = 'sandbox-secret';

export const sampleDeptIds = {
  root: 1,
  rd: 100, // 研发中心
  platform: 101, // 研发中心/平台组
  apps: 102, // 研发中心/应用组
  product: 200, // 产品部
  marketing: 300, // 市场部
  east: 301, // 市场部/华东区
  south: 302, // 市场部/华南区
  hr: 400, // 人力资源部
} as const;

/** Userids of the sample people, by the case each one exists for. */
export const sampleUserids = {
  /** 张伟, head of 研发中心; the username pin example of config.example.yaml (`dingtalk:userid:manager4220`). */
  manager: 'manager4220',
  /** 王芳 in 研发中心/平台组; shares her name (and pinyin) with `wangFangMarketing`. */
  wangFangPlatform: '016542113521092011',
  /** The other 王芳, in 市场部/华东区. */
  wangFangMarketing: '023809174425513377',
  /** 李娜, 研发中心/应用组: has an avatar and a personal email besides the org email. */
  liNa: '031247785612094216',
  /** 刘洋, 平台组 system administrator whose org email is admin@… (a reserved username). */
  adminMailbox: '045530126718823409',
  /** 陈静, 人力资源部: no org_email, no email, no avatar. */
  noEmail: '052216639041187765',
  /** 周杰, member of two departments (平台组 and 产品部). */
  twoDepartments: '067731420985561248',
  /** 吴婷, head of 市场部. */
  marketingHead: '071184562230947716',
  /** 孙浩, 市场部/华南区. */
  southSales: '089953217746610385',
  /** 杨磊 left: his account still signs in (users/me works), but getbyunionid/v2/user/get → 60121. */
  departed: '094412687350021954',
  /** 赵敏, external contact: getbyunionid → contact_type 1, v2/user/get → 60121. */
  externalContact: '102267345518806632',
  /** 黄强 works for another organisation (SANDBOX_OTHER_CORP_ID): not found in this one. */
  otherOrg: '118830264471195528',
} as const;

const MAIL = 'sandbox.example.com';

const departments: SandboxDepartment[] = [
  { deptId: 1, name: '沙箱科技有限公司', order: 0 },
  { deptId: 100, name: '研发中心', parentId: 1, order: 1, managerUserids: [sampleUserids.manager] },
  { deptId: 101, name: '平台组', parentId: 100, order: 1 },
  { deptId: 102, name: '应用组', parentId: 100, order: 2 },
  { deptId: 200, name: '产品部', parentId: 1, order: 2 },
  { deptId: 300, name: '市场部', parentId: 1, order: 3, managerUserids: [sampleUserids.marketingHead] },
  { deptId: 301, name: '华东区', parentId: 300, order: 1 },
  { deptId: 302, name: '华南区', parentId: 300, order: 2 },
  { deptId: 400, name: '人力资源部', parentId: 1, order: 4 },
];

const people: SandboxPerson[] = [
  {
    userid: sampleUserids.manager,
    unionId: 'sbxZhangWei4220Un1onIdiEiE',
    openId: 'sbxOpenZhangWei4220iEiE',
    name: '张伟',
    deptIds: [100],
    leaderOf: [100],
    jobNumber: 'SX0001',
    title: '研发总监',
    orgEmail: `wei.zhang@${MAIL}`,
    mobile: '13800000001',
    hiredDate: 1514764800000,
  },
  {
    userid: sampleUserids.wangFangPlatform,
    unionId: 'sbxWangFang01Un1onIdiEiE',
    openId: 'sbxOpenWangFang01iEiE',
    name: '王芳',
    deptIds: [101],
    jobNumber: 'SX0102',
    title: '高级工程师',
    orgEmail: `fang.wang@${MAIL}`,
    mobile: '13800000002',
    managerUserid: sampleUserids.manager,
  },
  {
    userid: sampleUserids.wangFangMarketing,
    unionId: 'sbxWangFang02Un1onIdiEiE',
    openId: 'sbxOpenWangFang02iEiE',
    name: '王芳',
    deptIds: [301],
    jobNumber: 'SX0318',
    title: '市场专员',
    orgEmail: `wangfang@${MAIL}`,
    mobile: '13800000003',
    managerUserid: sampleUserids.marketingHead,
  },
  {
    userid: sampleUserids.liNa,
    unionId: 'sbxLiNaUn1onIdiEiE',
    openId: 'sbxOpenLiNaiEiE',
    name: '李娜',
    deptIds: [102],
    jobNumber: 'SX0125',
    title: '前端工程师',
    orgEmail: `na.li@${MAIL}`,
    email: 'lina.personal@mail.example.net',
    mobile: '13800000004',
    avatarUrl: 'https://static.sandbox.example.com/avatar/lina.png',
    managerUserid: sampleUserids.manager,
  },
  {
    userid: sampleUserids.adminMailbox,
    unionId: 'sbxLiuYangUn1onIdiEiE',
    openId: 'sbxOpenLiuYangiEiE',
    name: '刘洋',
    deptIds: [101],
    jobNumber: 'SX0107',
    title: '系统管理员',
    orgEmail: `admin@${MAIL}`,
    mobile: '13800000005',
    admin: true,
    managerUserid: sampleUserids.manager,
  },
  {
    userid: sampleUserids.noEmail,
    unionId: 'sbxChenJingUn1onIdiEiE',
    openId: 'sbxOpenChenJingiEiE',
    name: '陈静',
    deptIds: [400],
    jobNumber: 'SX0401',
    title: '招聘专员',
    mobile: '13800000006',
  },
  {
    userid: sampleUserids.twoDepartments,
    unionId: 'sbxZhouJieUn1onIdiEiE',
    openId: 'sbxOpenZhouJieiEiE',
    name: '周杰',
    deptIds: [101, 200],
    jobNumber: 'SX0210',
    title: '技术产品经理',
    orgEmail: `jie.zhou@${MAIL}`,
    mobile: '13800000007',
  },
  {
    userid: sampleUserids.marketingHead,
    unionId: 'sbxWuTingUn1onIdiEiE',
    openId: 'sbxOpenWuTingiEiE',
    name: '吴婷',
    deptIds: [300],
    leaderOf: [300],
    jobNumber: 'SX0300',
    title: '市场总监',
    orgEmail: `ting.wu@${MAIL}`,
    mobile: '13800000008',
    boss: false,
  },
  {
    userid: sampleUserids.southSales,
    unionId: 'sbxSunHaoUn1onIdiEiE',
    openId: 'sbxOpenSunHaoiEiE',
    name: '孙浩',
    deptIds: [302],
    jobNumber: 'SX0331',
    title: '销售经理',
    orgEmail: `hao.sun@${MAIL}`,
    mobile: '13800000009',
    managerUserid: sampleUserids.marketingHead,
  },
  {
    userid: sampleUserids.departed,
    unionId: 'sbxYangLeiUn1onIdiEiE',
    openId: 'sbxOpenYangLeiiEiE',
    name: '杨磊',
    member: false,
    deptIds: [102],
    jobNumber: 'SX0133',
    title: '后端工程师',
    orgEmail: `lei.yang@${MAIL}`,
    mobile: '13800000010',
  },
  {
    userid: sampleUserids.externalContact,
    unionId: 'sbxZhaoMinUn1onIdiEiE',
    openId: 'sbxOpenZhaoMiniEiE',
    name: '赵敏',
    contactType: 1,
    deptIds: [],
    title: '外部顾问',
    email: 'zhaomin@partner.example.org',
    mobile: '13800000011',
  },
  {
    userid: sampleUserids.otherOrg,
    unionId: 'sbxHuangQiangUn1onIdiEiE',
    openId: 'sbxOpenHuangQiangiEiE',
    name: '黄强',
    corpId: SANDBOX_OTHER_CORP_ID,
    deptIds: [1],
    jobNumber: 'OT0001',
    title: '工程师',
    orgEmail: 'qiang.huang@other.example.com',
    mobile: '13800000012',
  },
];

export const sampleOrganisation: SandboxOrg = deepFreeze({
  corpId: SANDBOX_CORP_ID,
  name: '沙箱科技有限公司',
  departments,
  people,
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
