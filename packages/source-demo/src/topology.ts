/**
 * The simulated estate: gateways, the applications behind their listeners, and the client
 * populations that call them. Built once per generator from the seed, so names, addresses and
 * certificate thumbprints are stable for a given seed.
 */
import { cumulative, mixSeed, Rng } from "./random.js";

/** Gateway SKU family. */
export type Sku = "v1" | "v2";

/** How requests to an application behave. */
export type AppKind = "web" | "api" | "redirect" | "partner" | "downloads" | "l4" | "intranet";

/** One application published through a listener + routing rule + backend pool/setting. */
export interface AppModel {
  /** Stable key (incidents target apps by key). */
  readonly key: string;
  readonly kind: AppKind;
  readonly hosts: readonly string[];
  readonly listener: string;
  readonly rule: string;
  readonly pool: string;
  readonly setting: string;
  /** `ip:port` on v2, bare IP on v1 (as the v1 `SERVER-ROUTED=` pair shows it). */
  readonly backends: readonly string[];
  /** Share of its gateway's traffic (relative). */
  readonly weight: number;
  /** Listener terminates TLS. */
  readonly tls: boolean;
}

/** One Application Gateway. */
export interface GatewayModel {
  readonly index: number;
  /** Lower-case gateway name, e.g. `agw-shop-prod-weu`. */
  readonly name: string;
  /** Upper-case ARM id, as diagnostic exports write it. */
  readonly resourceId: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly sku: Sku;
  /** `null` when the gateway has no WAF. */
  readonly wafMode: "Prevention" | "Detection" | null;
  /** ARM id of the WAF policy, or `default`. */
  readonly policyId: string;
  readonly instances: readonly string[];
  readonly apps: readonly AppModel[];
  readonly appCum: readonly number[];
  /** Share of total traffic (relative). */
  readonly weight: number;
  /** Serialise `/` as `\/`, as the Microsoft samples show; parsers must not care. */
  readonly escapeSlashes: boolean;
  /** Public frontend IP (scanners address the gateway by it). */
  readonly frontendIp: string;
}

/** A business partner calling the mTLS API with its own client certificate. */
export interface PartnerModel {
  readonly name: string;
  readonly ips: readonly string[];
  readonly userAgent: string;
  readonly fingerprint: string;
  readonly issuer: string;
  readonly weight: number;
}

/** A public client (browser, app, crawler) with a stable address and user agent. */
export interface ClientModel {
  readonly ip: string;
  readonly userAgent: string;
}

/** Everything the generator draws from that does not change per tick. */
export interface Topology {
  readonly gateways: readonly GatewayModel[];
  readonly gatewayCum: readonly number[];
  readonly publicClients: readonly ClientModel[];
  readonly intranetClients: readonly ClientModel[];
  readonly devices: readonly string[];
  readonly partners: readonly PartnerModel[];
  readonly partnerCum: readonly number[];
}

const REGIONS = ["weu", "neu", "eus2", "wus3", "sea", "uks", "frc", "gwc", "swn", "jpe"] as const;

/** Largest supported `gateways` option (3 templates × regions). */
export const MAX_GATEWAYS = REGIONS.length * 3;

const SHOP_APPS = (r: number): AppModel[] => [
  {
    key: "shop-www",
    kind: "web",
    hosts: ["www.contoso-shop.com", "www.contoso-shop.com", "www.contoso-shop.com", "contoso-shop.com"],
    listener: "lst-https-www",
    rule: "rule-www",
    pool: "pool-web-frontend",
    setting: "bes-web-https",
    backends: [`10.${10 + r}.1.4:443`, `10.${10 + r}.1.5:443`, `10.${10 + r}.1.6:443`],
    weight: 55,
    tls: true,
  },
  {
    key: "orders-api",
    kind: "api",
    hosts: ["api.contoso-shop.com"],
    listener: "lst-https-api",
    rule: "rule-api-orders",
    pool: "pool-orders-api",
    setting: "bes-orders-http-20s",
    backends: [`10.${10 + r}.2.4:8080`, `10.${10 + r}.2.5:8080`],
    weight: 15,
    tls: true,
  },
  {
    key: "catalog-api",
    kind: "api",
    hosts: ["api.contoso-shop.com"],
    listener: "lst-https-api",
    rule: "rule-api-catalog",
    pool: "pool-catalog-api",
    setting: "bes-catalog-http-20s",
    backends: [`10.${10 + r}.3.4:8080`, `10.${10 + r}.3.5:8080`, `10.${10 + r}.3.6:8080`],
    weight: 20,
    tls: true,
  },
  {
    key: "http-redirect",
    kind: "redirect",
    hosts: ["www.contoso-shop.com", "contoso-shop.com"],
    listener: "lst-http-www",
    rule: "rule-http-to-https",
    pool: "",
    setting: "",
    backends: [],
    weight: 5,
    tls: false,
  },
];

const PARTNER_APPS = (r: number): AppModel[] => [
  {
    key: "partner-api",
    kind: "partner",
    hosts: ["partner-api.contoso.com"],
    listener: "lst-mtls-partner",
    rule: "rule-partner-api",
    pool: "pool-partner-api",
    setting: "bes-partner-https",
    backends: [`10.${20 + r}.1.4:443`, `10.${20 + r}.1.5:443`],
    weight: 50,
    tls: true,
  },
  {
    key: "downloads",
    kind: "downloads",
    hosts: ["downloads.contoso.com"],
    listener: "lst-https-downloads",
    rule: "rule-downloads",
    pool: "pool-downloads-storage",
    setting: "bes-storage-https",
    backends: ["52.239.221.65:443", "52.239.221.97:443"],
    weight: 35,
    tls: true,
  },
  {
    key: "mqtt-l4",
    kind: "l4",
    hosts: ["mqtt.contoso.com"],
    listener: "lst-tls-mqtt",
    rule: "rule-mqtt-tcp",
    pool: "pool-mqtt-brokers",
    setting: "bes-mqtt-tcp",
    backends: [`10.${20 + r}.3.4:1883`, `10.${20 + r}.3.5:1883`],
    weight: 12,
    tls: true,
  },
];

const INTRANET_APPS = (r: number): AppModel[] => [
  {
    key: "intranet",
    kind: "intranet",
    hosts: ["intranet.contoso.com"],
    listener: "appGatewayHttpsListener",
    rule: "rule1",
    pool: "appGatewayBackendPool",
    setting: "appGatewayBackendHttpSettings",
    backends: [`10.${30 + r}.1.4`, `10.${30 + r}.1.5`],
    weight: 70,
    tls: true,
  },
  {
    key: "legacy-portal",
    kind: "intranet",
    hosts: ["portal.contoso.com"],
    listener: "portalListener",
    rule: "portalRule",
    pool: "portalPool",
    setting: "portalHttpSettings",
    backends: [`10.${30 + r}.2.4`],
    weight: 30,
    tls: true,
  },
];

interface Template {
  readonly base: string;
  readonly rg: string;
  readonly sku: Sku;
  readonly wafMode: "Prevention" | "Detection" | null;
  readonly weight: number;
  readonly escapeSlashes: boolean;
  readonly apps: (region: number) => AppModel[];
}

const TEMPLATES: readonly Template[] = [
  {
    base: "agw-shop-prod",
    rg: "RG-SHOP-PROD",
    sku: "v2",
    wafMode: "Prevention",
    weight: 50,
    escapeSlashes: false,
    apps: SHOP_APPS,
  },
  {
    base: "agw-partner-prod",
    rg: "RG-PARTNER-PROD",
    sku: "v2",
    wafMode: "Detection",
    weight: 30,
    escapeSlashes: true,
    apps: PARTNER_APPS,
  },
  {
    base: "agw-intranet-legacy",
    rg: "RG-CORP-NETWORK",
    sku: "v1",
    wafMode: null,
    weight: 20,
    escapeSlashes: false,
    apps: INTRANET_APPS,
  },
];

const BROWSER_AGENTS: readonly (readonly [string, number])[] = [
  [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    30,
  ],
  [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    12,
  ],
  [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    18,
  ],
  [
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
    14,
  ],
  [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    8,
  ],
  ["Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", 6],
  [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
    2,
  ],
  ["ContosoShop/5.12.0 (com.contoso.shop; build:51203; iOS 17.4.1) Alamofire/5.8.1", 5],
  ["okhttp/4.12.0", 4],
  ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 1],
  ["Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 0.6],
  ["-", 0.4],
];

const INTRANET_AGENTS: readonly string[] = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
  "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; Trident/7.0; .NET4.0C; .NET4.0E)",
];

/** First octets of public ranges that show up in European e-commerce traffic. */
const PUBLIC_FIRST_OCTETS = [
  31, 37, 46, 62, 77, 78, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 109, 141, 176, 178, 185,
  188, 193, 195, 212, 213, 217,
];

function publicIp(rng: Rng): string {
  return `${rng.pick(PUBLIC_FIRST_OCTETS)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}

function upperGuid(rng: Rng): string {
  return rng.guid();
}

/** Builds the estate for `count` gateways. Pure in (seed, count). */
export function buildTopology(seed: number, count: number): Topology {
  const rng = new Rng(mixSeed(seed, 0x70901091));
  const subscriptions = [upperGuid(rng), upperGuid(rng), upperGuid(rng)];
  const gateways: GatewayModel[] = [];
  for (let i = 0; i < count; i += 1) {
    const t = TEMPLATES[i % TEMPLATES.length] as Template;
    const region = Math.floor(i / TEMPLATES.length);
    const regionName = REGIONS[region] ?? `r${region}`;
    const name = `${t.base}-${regionName}`;
    const rg = `${t.rg}-${regionName.toUpperCase()}`;
    const sub = subscriptions[i % TEMPLATES.length] as string;
    let apps = t.apps(region);
    // A single gateway publishes the partner apps too, so every incident has a home.
    if (count === 1) apps = [...apps, ...PARTNER_APPS(region)];
    const instanceCount = t.sku === "v1" ? 2 : rng.int(2, 4);
    const instances: string[] = [];
    for (let n = 0; n < instanceCount; n += 1) {
      instances.push(t.sku === "v1" ? `ApplicationGatewayRole_IN_${n}` : `appgw_${n}`);
    }
    const policyName = `WAFPOL-${t.base.replace(/^agw-/, "").toUpperCase()}-${regionName.toUpperCase()}`;
    gateways.push({
      index: i,
      name,
      resourceId: `/SUBSCRIPTIONS/${sub.toUpperCase()}/RESOURCEGROUPS/${rg}/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/${name.toUpperCase()}`,
      subscriptionId: sub,
      resourceGroup: rg,
      sku: t.sku,
      wafMode: t.wafMode,
      policyId:
        t.wafMode === null
          ? "default"
          : `/SUBSCRIPTIONS/${sub.toUpperCase()}/RESOURCEGROUPS/${rg}/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYWEBAPPLICATIONFIREWALLPOLICIES/${policyName}`,
      instances,
      apps,
      appCum: cumulative(apps.map((a) => a.weight)),
      weight: t.weight,
      escapeSlashes: t.escapeSlashes,
      frontendIp: `20.${rng.int(20, 120)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
    });
  }

  const agentCum = cumulative(BROWSER_AGENTS.map(([, w]) => w));
  const publicClients: ClientModel[] = [];
  for (let n = 0; n < 4000; n += 1) {
    publicClients.push({
      ip: publicIp(rng),
      userAgent: (BROWSER_AGENTS[rng.weighted(agentCum)] as readonly [string, number])[0],
    });
  }
  const intranetClients: ClientModel[] = [];
  for (let n = 0; n < 600; n += 1) {
    intranetClients.push({
      ip: `10.${rng.int(40, 47)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
      userAgent: rng.pick(INTRANET_AGENTS),
    });
  }
  const devices: string[] = [];
  for (let n = 0; n < 300; n += 1) devices.push(publicIp(rng));
  const partners: PartnerModel[] = [
    {
      name: "Northwind Traders",
      ips: [publicIp(rng), publicIp(rng), publicIp(rng)],
      userAgent: "Apache-HttpClient/4.5.14 (Java/17.0.9)",
      fingerprint: rng.hex(40).toUpperCase(),
      issuer: "CN=Northwind Issuing CA 02, O=Northwind Traders, C=US",
      weight: 45,
    },
    {
      name: "Tailspin Toys",
      ips: [publicIp(rng), publicIp(rng)],
      userAgent: "python-requests/2.31.0",
      fingerprint: rng.hex(40).toUpperCase(),
      issuer: "CN=Tailspin Partner CA, O=Tailspin Toys, C=GB",
      weight: 25,
    },
    {
      name: "Adventure Works",
      ips: [publicIp(rng)],
      userAgent: "Go-http-client/2.0",
      fingerprint: rng.hex(40).toUpperCase(),
      issuer: "CN=Adventure Works Issuing CA 1, OU=IT, O=Adventure Works Cycles, C=DE",
      weight: 20,
    },
    {
      name: "Fabrikam",
      ips: [publicIp(rng), publicIp(rng)],
      userAgent: "FabrikamSync/3.1 (+https://fabrikam.example/sync)",
      fingerprint: rng.hex(40).toUpperCase(),
      issuer: "CN=Fabrikam Issuing CA 01, O=Fabrikam Inc, C=US",
      weight: 10,
    },
  ];
  return {
    gateways,
    gatewayCum: cumulative(gateways.map((g) => g.weight)),
    publicClients,
    intranetClients,
    devices,
    partners,
    partnerCum: cumulative(partners.map((p) => p.weight)),
  };
}
