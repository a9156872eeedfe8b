/**
 * What happens to one simulated request: which URI, what the backend answers, how long it takes,
 * and how an active incident or the background noise (WAF blocks, scanners, client aborts, internal
 * probes) changes that. Produces records through the renderers; draws only from the given Rng.
 */
import type { DemoIncidentId } from "./incidents.js";
import type { Rng } from "./random.js";
import {
  renderFirewall,
  renderL4,
  renderV1Access,
  renderV2Access,
  type JsonRecord,
  type RequestFields,
  type WafHit,
} from "./render.js";
import type { AppModel, ClientModel, GatewayModel, Topology } from "./topology.js";
import { anomalyHit, anomalyScore, hit, type WafRuleKey } from "./waf-rules.js";

/** Records produced for one gateway during one tick, in category groups. */
export interface GatewayOutput {
  /** Access-log category: HTTP access and L4 session records. */
  readonly access: JsonRecord[];
  readonly firewall: JsonRecord[];
}

/** What a backend answered for one request. */
interface Outcome {
  method: string;
  uri: string;
  query: string;
  status: number;
  contentType: string;
  sentBytes: number;
  receivedBytes: number;
  /** Backend response latency, seconds. */
  latency: number;
  /** Extra seconds to deliver the response to the client (large bodies). */
  transfer: number;
}

const PRODUCTS = [
  "trail-running-shoes-x3",
  "merino-wool-socks-3pack",
  "waterproof-hiking-jacket",
  "ultralight-tent-2p",
  "insulated-water-bottle-750ml",
  "carbon-trekking-poles",
  "down-sleeping-bag-minus5",
  "headlamp-400-lumen",
  "solar-power-bank-20000",
  "softshell-trousers-slim",
  "approach-shoes-gtx",
  "daypack-28l",
  "fleece-midlayer-200",
  "camping-stove-titanium",
  "gaiters-waterproof",
];
const CATEGORIES = ["footwear", "jackets", "camping", "accessories", "backpacks", "sale", "new-arrivals"];
const SEARCH_TERMS = [
  "rain+jacket",
  "tent",
  "socks",
  "gore-tex",
  "hiking+boots+women",
  "stove",
  "sleeping+bag",
  "gift+card",
  "headlamp",
];
const STATIC_ASSETS: readonly (readonly [string, string, number])[] = [
  ["/static/js/main.8f3a2c1b.js", "application/javascript", 412_000],
  ["/static/js/vendor.1c9e77d2.js", "application/javascript", 286_000],
  ["/static/js/checkout.4b2a90ee.chunk.js", "application/javascript", 64_000],
  ["/static/css/main.5d2e9f0a.css", "text/css", 58_000],
  ["/static/media/logo.3f1c2a.svg", "image/svg+xml", 6_200],
  ["/static/fonts/inter-var.woff2", "font/woff2", 98_000],
  ["/favicon.ico", "image/x-icon", 15_086],
];
const SCANNER_AGENTS = [
  "Mozilla/5.0 zgrab/0.x",
  "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
  "python-requests/2.28.1",
  "curl/7.88.1",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0.4430.85 Safari/537.36",
  "-",
];
const ATTACKERS = [
  "45.146.164.110",
  "185.220.101.47",
  "193.142.146.35",
  "89.248.165.52",
  "103.145.13.201",
  "194.26.192.64",
];

interface AttackScenario {
  readonly uri: string;
  readonly query: string;
  readonly variable: string;
  readonly data: string;
  readonly rules: readonly WafRuleKey[];
}

/** The SQL injection burst of the `waf_attack` incident (always 942100 first). */
const SQLI_ATTACKS: readonly AttackScenario[] = [
  {
    uri: "/search",
    query: "q=%27%20OR%201%3D1--",
    variable: "ARGS:q",
    data: "' OR 1=1--",
    rules: ["r942100", "r942260"],
  },
  {
    uri: "/search",
    query: "q=1%27%20UNION%20SELECT%20username%2Cpassword%20FROM%20users--",
    variable: "ARGS:q",
    data: "1' UNION SELECT username,password FROM users--",
    rules: ["r942100", "r942190"],
  },
  { uri: "/search", query: "q=admin%27--", variable: "ARGS:q", data: "admin'--", rules: ["r942100"] },
  {
    uri: "/products/trail-running-shoes-x3",
    query: "id=1%27%20AND%20SLEEP(5)--",
    variable: "ARGS:id",
    data: "1' AND SLEEP(5)--",
    rules: ["r942100", "r942200"],
  },
  {
    uri: "/category/sale",
    query: "sort=price%3BDROP%20TABLE%20orders--",
    variable: "ARGS:sort",
    data: "price;DROP TABLE orders--",
    rules: ["r942100"],
  },
];

/** Background probing by scanners (blocked by the shop WAF). */
const SCANS: readonly AttackScenario[] = [
  { uri: "/.env", query: "", variable: "REQUEST_FILENAME", data: ".env", rules: ["r930130", "r913100"] },
  { uri: "/.git/config", query: "", variable: "REQUEST_FILENAME", data: ".git/", rules: ["r930130"] },
  {
    uri: "/cgi-bin/../../../../etc/passwd",
    query: "",
    variable: "REQUEST_URI_RAW",
    data: "/../",
    rules: ["r930110", "r930120"],
  },
  {
    uri: "/index.php",
    query: "cmd=%2Fbin%2Fsh%20-c%20id",
    variable: "ARGS:cmd",
    data: "/bin/sh -c id",
    rules: ["r932160"],
  },
  {
    uri: "/search",
    query: "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    variable: "ARGS:q",
    data: "<script>alert(1)</script>",
    rules: ["r941100"],
  },
];

const NO_LISTENER_PATHS = [
  "/",
  "/.env",
  "/wp-login.php",
  "/admin",
  "/actuator/health",
  "/owa/auth/logon.aspx",
  "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
];

/** Generates records for one gateway; one instance per tick, fed records in time order. */
export class TrafficModel {
  constructor(
    private readonly topo: Topology,
    private readonly rng: Rng,
  ) {}

  private popularClient(): ClientModel {
    const list = this.topo.publicClients;
    return list[Math.floor(list.length * Math.pow(this.rng.next(), 2.2))] as ClientModel;
  }

  private base(g: GatewayModel, app: AppModel | null, t: number, client: ClientModel): RequestFields {
    const rng = this.rng;
    return {
      timeMs: Math.floor(t),
      instanceId: rng.pick(g.instances),
      app,
      clientIp: client.ip,
      clientPort: rng.int(1024, 65535),
      method: "GET",
      uri: "/",
      query: "",
      userAgent: client.userAgent,
      host: app ? rng.pick(app.hosts) : g.frontendIp,
      httpVersion: rng.chance(0.7) ? "HTTP/2.0" : "HTTP/1.1",
      status: 200,
      serverStatus: "",
      serverRouted: "",
      serverLatency: null,
      timeTaken: 0.001,
      receivedBytes: rng.int(380, 1400),
      sentBytes: 0,
      errorInfo: "ERRORINFO_NO_ERROR",
      contentType: "",
      sslClientVerify: "NONE",
      certFingerprint: "",
      certIssuer: "",
      transactionId: g.sku === "v1" ? rng.guid() : rng.hex(32),
      wafEvaluationTime: g.wafMode === null ? "" : rng.chance(0.85) ? "0.000" : "0.001",
      upstreamSourcePort: "",
    };
  }

  /** Applies a backend answer to `f` (the backend was reached and answered). */
  private served(f: RequestFields, app: AppModel, o: Outcome): void {
    const rng = this.rng;
    f.method = o.method;
    f.uri = o.uri;
    f.query = o.query;
    f.status = o.status;
    f.serverStatus = String(o.status);
    f.serverRouted = rng.pick(app.backends);
    f.serverLatency = o.latency;
    f.timeTaken = o.latency + o.transfer + rng.next() * 0.004 + 0.001;
    f.sentBytes = o.sentBytes;
    f.receivedBytes = o.receivedBytes;
    f.contentType = o.contentType;
    f.upstreamSourcePort = String(rng.int(1024, 65535));
  }

  private emit(g: GatewayModel, out: GatewayOutput, f: RequestFields): void {
    out.access.push(g.sku === "v1" ? renderV1Access(g, f) : renderV2Access(g, f));
  }

  private emitWaf(g: GatewayModel, out: GatewayOutput, f: RequestFields, hits: readonly WafHit[]): void {
    const requestUri = f.query === "" ? f.uri : `${f.uri}?${f.query}`;
    for (const h of hits) {
      out.firewall.push(
        renderFirewall(g, f.timeMs, f.instanceId, f.clientIp, requestUri, f.host, f.transactionId, h),
      );
    }
  }

  // ---- backend answers per application kind ----

  private web(): Outcome {
    const rng = this.rng;
    const r = rng.next();
    const o: Outcome = {
      method: "GET",
      uri: "/",
      query: "",
      status: 200,
      contentType: "text/html; charset=utf-8",
      sentBytes: 0,
      receivedBytes: rng.int(420, 1600),
      latency: rng.logNormal(0.045, 0.5),
      transfer: 0,
    };
    if (r < 0.35) {
      const [uri, type, size] = rng.pick(STATIC_ASSETS);
      o.uri = uri;
      o.contentType = type;
      o.latency = rng.logNormal(0.006, 0.4);
      if (rng.chance(0.12)) {
        o.status = 304;
        o.sentBytes = rng.int(180, 320);
      } else o.sentBytes = size + rng.int(0, 400);
    } else if (r < 0.55) {
      o.uri = `/images/products/${rng.int(10000, 10400)}-${rng.int(1, 6)}.webp`;
      o.contentType = "image/webp";
      o.latency = rng.logNormal(0.012, 0.5);
      if (rng.chance(0.1)) {
        o.status = 304;
        o.sentBytes = rng.int(180, 320);
      } else o.sentBytes = rng.int(28_000, 210_000);
    } else if (r < 0.73) {
      o.uri = `/products/${rng.pick(PRODUCTS)}`;
      o.sentBytes = rng.int(42_000, 96_000);
      if (rng.chance(0.025)) {
        o.uri = `/products/${rng.pick(PRODUCTS)}-${rng.int(2019, 2022)}`;
        o.status = 404;
        o.sentBytes = rng.int(9_000, 12_000);
      }
    } else if (r < 0.79) {
      o.sentBytes = rng.int(70_000, 110_000);
    } else if (r < 0.87) {
      o.uri = `/category/${rng.pick(CATEGORIES)}`;
      o.query = rng.chance(0.4) ? `page=${rng.int(2, 9)}` : rng.chance(0.3) ? "sort=price_asc" : "";
      o.sentBytes = rng.int(60_000, 130_000);
    } else if (r < 0.92) {
      o.uri = "/search";
      o.query = `q=${rng.pick(SEARCH_TERMS)}`;
      o.latency = rng.logNormal(0.09, 0.5);
      o.sentBytes = rng.int(50_000, 120_000);
    } else if (r < 0.96) {
      if (rng.chance(0.7)) {
        o.uri = "/cart";
        o.sentBytes = rng.int(30_000, 45_000);
      } else {
        o.method = "POST";
        o.uri = "/checkout/payment";
        o.receivedBytes = rng.int(1_800, 3_200);
        o.latency = rng.logNormal(0.35, 0.4);
        if (rng.chance(0.5)) {
          o.status = 302;
          o.sentBytes = rng.int(400, 700);
        } else o.sentBytes = rng.int(20_000, 30_000);
      }
    } else if (r < 0.98) {
      o.uri = "/account/orders";
      if (rng.chance(0.4)) {
        o.status = 302;
        o.sentBytes = rng.int(400, 700);
      } else o.sentBytes = rng.int(25_000, 40_000);
    } else {
      o.uri = rng.pick(["/robots.txt", "/sitemap.xml", "/apple-touch-icon.png"]);
      o.contentType = o.uri.endsWith(".png")
        ? "image/png"
        : o.uri.endsWith(".xml")
          ? "application/xml"
          : "text/plain";
      o.sentBytes = rng.int(400, 60_000);
      if (o.uri === "/apple-touch-icon.png" && rng.chance(0.5)) o.status = 404;
    }
    this.backendFaults(o);
    return o;
  }

  private api(app: AppModel): Outcome {
    const rng = this.rng;
    const o: Outcome = {
      method: "GET",
      uri: "/",
      query: "",
      status: 200,
      contentType: "application/json; charset=utf-8",
      sentBytes: rng.int(400, 9_000),
      receivedBytes: rng.int(500, 1_300),
      latency: rng.logNormal(0.06, 0.6),
      transfer: 0,
    };
    const r = rng.next();
    if (app.key === "orders-api") {
      if (r < 0.4) {
        o.uri = `/api/orders/${rng.int(4_100_000, 4_300_000)}`;
        if (rng.chance(0.04)) o.status = 404;
      } else if (r < 0.6) {
        o.uri = "/api/orders";
        o.query = `customerId=${rng.int(100_000, 999_999)}&page=${rng.int(1, 4)}`;
      } else if (r < 0.75) {
        o.method = "POST";
        o.uri = "/api/orders";
        o.receivedBytes = rng.int(1_200, 4_500);
        o.latency = rng.logNormal(0.18, 0.5);
        o.status = rng.chance(0.015) ? 400 : rng.chance(0.006) ? 409 : 201;
      } else if (r < 0.9) {
        o.uri = "/api/cart";
      } else {
        o.method = "PUT";
        o.uri = `/api/cart/items/${rng.int(10000, 10400)}`;
        o.status = 204;
        o.sentBytes = 0;
      }
      if (rng.chance(0.02)) o.status = 401;
    } else {
      if (r < 0.45) {
        o.uri = "/api/catalog/products";
        o.query = `category=${rng.pick(CATEGORIES)}&page=${rng.int(1, 6)}&pageSize=24`;
        o.sentBytes = rng.int(18_000, 60_000);
      } else if (r < 0.75) {
        o.uri = `/api/catalog/products/${rng.int(10000, 10400)}`;
        if (rng.chance(0.03)) o.status = 404;
      } else if (r < 0.9) {
        o.uri = "/api/catalog/search";
        o.query = `q=${rng.pick(SEARCH_TERMS)}`;
        o.latency = rng.logNormal(0.12, 0.6);
      } else {
        o.uri = `/api/catalog/inventory/${rng.int(10000, 10400)}`;
      }
    }
    if (rng.chance(0.003)) o.status = 429;
    this.backendFaults(o);
    return o;
  }

  private partner(): Outcome {
    const rng = this.rng;
    const o: Outcome = {
      method: "GET",
      uri: "/",
      query: "",
      status: 200,
      contentType: "application/json",
      sentBytes: rng.int(600, 14_000),
      receivedBytes: rng.int(700, 1_500),
      latency: rng.logNormal(0.09, 0.5),
      transfer: 0,
    };
    const r = rng.next();
    if (r < 0.35) {
      o.uri = `/v2/invoices/INV-2024-${String(rng.int(1, 99_999)).padStart(6, "0")}`;
      if (rng.chance(0.05)) o.status = 404;
    } else if (r < 0.6) {
      o.method = "POST";
      o.uri = "/v2/shipments";
      o.receivedBytes = rng.int(2_000, 8_000);
      o.latency = rng.logNormal(0.25, 0.5);
      o.status = rng.chance(0.03) ? 400 : rng.chance(0.02) ? 422 : 201;
    } else if (r < 0.85) {
      o.uri = "/v2/orders";
      o.query = `status=open&since=2024-${String(rng.int(1, 12)).padStart(2, "0")}-01`;
      o.sentBytes = rng.int(8_000, 90_000);
    } else {
      o.method = "PUT";
      o.uri = `/v2/inventory/${rng.int(10000, 10400)}`;
      o.status = 204;
      o.sentBytes = 0;
    }
    if (rng.chance(0.01)) o.status = 401;
    this.backendFaults(o);
    return o;
  }

  private download(): Outcome & { size: number } {
    const rng = this.rng;
    const r = rng.next();
    let uri: string;
    let size: number;
    let type = "application/octet-stream";
    if (r < 0.35) {
      uri = `/releases/contoso-agent-7.${rng.int(2, 4)}.${rng.int(0, 9)}-x64.msi`;
      size = rng.int(84_000_000, 91_000_000);
    } else if (r < 0.5) {
      uri = `/releases/contoso-agent-7.4.${rng.int(0, 9)}-arm64.pkg`;
      size = rng.int(70_000_000, 76_000_000);
    } else if (r < 0.62) {
      uri = "/iso/contoso-linux-24.04.1-amd64.iso";
      size = 2_741_000_000;
    } else if (r < 0.8) {
      uri = "/docs/contoso-agent-admin-guide.pdf";
      size = rng.int(3_900_000, 4_200_000);
      type = "application/pdf";
    } else {
      uri = "/releases/latest.json";
      size = rng.int(800, 1_400);
      type = "application/json";
    }
    const throughput = rng.logNormal(12_000_000, 0.8);
    const o: Outcome & { size: number } = {
      method: "GET",
      uri,
      query: "",
      status: 200,
      contentType: type,
      sentBytes: size,
      receivedBytes: rng.int(400, 900),
      latency: rng.logNormal(0.03, 0.4),
      transfer: Math.min(size / throughput, 900),
      size,
    };
    if (size > 1e9 && rng.chance(0.3)) {
      o.status = 206;
      o.sentBytes = rng.int(50_000_000, 400_000_000);
      o.transfer = o.sentBytes / throughput;
    } else if (rng.chance(0.05)) {
      o.status = 304;
      o.sentBytes = rng.int(200, 320);
      o.transfer = 0;
    }
    return o;
  }

  private intranet(app: AppModel): Outcome {
    const rng = this.rng;
    const o: Outcome = {
      method: "GET",
      uri: "/",
      query: "",
      status: 200,
      contentType: "text/html; charset=utf-8",
      sentBytes: rng.int(20_000, 140_000),
      receivedBytes: rng.int(600, 2_400),
      latency: rng.logNormal(0.15, 0.7),
      transfer: 0,
    };
    const r = rng.next();
    if (app.key === "legacy-portal") {
      o.uri = rng.pick([
        "/Default.aspx",
        "/Reports/ViewReport.aspx",
        "/HR/LeaveRequest.aspx",
        "/Scripts/jquery-1.12.4.min.js",
      ]);
      if (o.uri === "/Reports/ViewReport.aspx") o.query = `id=${rng.int(100, 999)}`;
    } else if (r < 0.3) {
      o.uri = rng.pick([
        "/sites/hr/SitePages/Home.aspx",
        "/sites/it/SitePages/Home.aspx",
        "/_layouts/15/start.aspx",
      ]);
    } else if (r < 0.55) {
      o.uri = "/_api/web/currentuser";
      o.contentType = "application/json;odata=verbose;charset=utf-8";
      o.sentBytes = rng.int(900, 2_000);
    } else if (r < 0.75) {
      o.method = "POST";
      o.uri = "/_vti_bin/client.svc/ProcessQuery";
      o.contentType = "application/json; charset=utf-8";
      o.receivedBytes = rng.int(2_000, 9_000);
    } else {
      o.uri = `/sites/hr/Shared%20Documents/Forms/AllItems.aspx`;
    }
    // NTLM negotiation: the first leg is a backend 401.
    if (rng.chance(0.12)) {
      o.status = 401;
      o.sentBytes = rng.int(300, 1_400);
      o.latency = rng.logNormal(0.004, 0.4);
    } else if (rng.chance(0.03)) {
      o.status = 302;
      o.sentBytes = rng.int(300, 600);
    } else if (rng.chance(0.02)) {
      o.status = 404;
      o.sentBytes = rng.int(1_200, 3_000);
    }
    this.backendFaults(o);
    return o;
  }

  /** Rare backend-side errors passed through as-is. */
  private backendFaults(o: Outcome): void {
    const r = this.rng.next();
    if (r < 0.003) {
      o.status = 500;
      o.sentBytes = this.rng.int(300, 4_000);
    } else if (r < 0.0035) {
      o.status = 503;
      o.sentBytes = this.rng.int(300, 900);
    } else if (r < 0.0038) {
      o.status = 502;
      o.sentBytes = this.rng.int(300, 900);
    }
  }

  // ---- records ----

  /**
   * One request from the normal mix, possibly turned into an incident record. Returns the id of the
   * incident whose record it produced, or null.
   */
  request(
    g: GatewayModel,
    app: AppModel,
    t: number,
    out: GatewayOutput,
    incident: DemoIncidentId | null,
  ): DemoIncidentId | null {
    const rng = this.rng;
    switch (app.kind) {
      case "l4":
        this.session(g, app, t, out);
        return null;
      case "redirect": {
        const f = this.base(g, app, t, this.popularClient());
        f.uri = rng.pick(["/", "/", `/products/${rng.pick(PRODUCTS)}`, `/category/${rng.pick(CATEGORIES)}`]);
        f.httpVersion = "HTTP/1.1";
        f.status = 301;
        f.sentBytes = rng.int(280, 340);
        f.contentType = "text/html";
        f.timeTaken = 0.001;
        this.emit(g, out, f);
        return null;
      }
      case "intranet": {
        const pick = this.topo.intranetClients;
        const client = pick[Math.floor(pick.length * Math.pow(rng.next(), 1.6))] as ClientModel;
        const f = this.base(g, app, t, client);
        f.httpVersion = "HTTP/1.1";
        const o = this.intranet(app);
        this.served(f, app, o);
        f.serverRouted = rng.pick(app.backends);
        const r = rng.next();
        if (r < 0.002) {
          // v1 logs 0 where v2 logs 499 when the client leaves early.
          f.status = 0;
          f.serverStatus = "";
          f.sentBytes = 0;
          f.timeTaken = rng.logNormal(2, 0.8);
        } else if (r < 0.0025) {
          // v1 answers a backend timeout with 502 after the 20 s request timeout.
          f.status = 502;
          f.serverStatus = "";
          f.sentBytes = rng.int(600, 800);
          f.timeTaken = 20 + rng.next() * 0.15;
        }
        this.emit(g, out, f);
        return null;
      }
      case "partner":
        return this.partnerRequest(g, app, t, out, incident);
      case "downloads":
        return this.downloadRequest(g, app, t, out, incident);
      case "web":
      case "api":
        return this.httpRequest(g, app, t, out, incident);
    }
  }

  private httpRequest(
    g: GatewayModel,
    app: AppModel,
    t: number,
    out: GatewayOutput,
    incident: DemoIncidentId | null,
  ): DemoIncidentId | null {
    const rng = this.rng;
    const client = this.popularClient();
    const f = this.base(g, app, t, client);
    if (incident === "pool_outage" && app.key === "orders-api") {
      this.noLiveBackend(f, app);
      this.emit(g, out, f);
      if (rng.chance(0.4)) {
        const retry = this.base(g, app, t + rng.int(500, 3000), client);
        this.noLiveBackend(retry, app);
        retry.method = f.method;
        retry.uri = f.uri;
        retry.query = f.query;
        this.emit(g, out, retry);
      }
      return "pool_outage";
    }
    const o = app.kind === "web" ? this.web() : this.api(app);
    this.served(f, app, o);
    if (incident === "slow_backend" && app.key === "catalog-api" && rng.chance(0.65)) {
      f.status = 504;
      f.serverStatus = "-";
      f.serverLatency = null;
      f.timeTaken = 20 + rng.next() * 0.08;
      f.sentBytes = rng.int(420, 520);
      f.contentType = "text/html";
      f.errorInfo = "ERRORINFO_UPSTREAM_TIMED_OUT";
      this.emit(g, out, f);
      return "slow_backend";
    }
    const r = rng.next();
    if (r < 0.0015) {
      // The client went away before the backend answered.
      f.status = 499;
      f.serverStatus = "";
      f.serverLatency = null;
      f.sentBytes = 0;
      f.contentType = "";
      f.errorInfo = "ERRORINFO_CLIENT_CLOSED_REQUEST";
    } else if (r < 0.002) {
      f.status = 502;
      f.serverStatus = "";
      f.serverLatency = null;
      f.sentBytes = rng.int(420, 520);
      f.contentType = "text/html";
      f.errorInfo = "ERRORINFO_UPSTREAM_CLOSED_CONNECTION";
    }
    this.emit(g, out, f);
    if (client.userAgent === "-" && g.wafMode !== null && rng.chance(0.5)) {
      // A notice-level match (score 2) that does not reach the blocking threshold.
      this.emitWaf(g, out, f, [hit("r920320", "REQUEST_HEADERS", "")]);
    }
    return null;
  }

  private noLiveBackend(f: RequestFields, app: AppModel): void {
    const rng = this.rng;
    const o = this.api(app);
    f.method = o.method;
    f.uri = o.uri;
    f.query = o.query;
    f.receivedBytes = o.receivedBytes;
    f.status = 502;
    f.serverStatus = "";
    f.serverRouted = "";
    f.serverLatency = null;
    f.upstreamSourcePort = "";
    f.timeTaken = 0.001 + rng.next() * 0.003;
    f.sentBytes = rng.int(480, 560);
    f.contentType = "text/html";
    f.errorInfo = "ERRORINFO_UPSTREAM_NO_LIVE";
  }

  private partnerRequest(
    g: GatewayModel,
    app: AppModel,
    t: number,
    out: GatewayOutput,
    incident: DemoIncidentId | null,
  ): DemoIncidentId | null {
    const rng = this.rng;
    const pi = rng.weighted(this.topo.partnerCum);
    const p = this.topo.partners[pi] ?? this.topo.partners[0];
    if (!p) return null;
    const client: ClientModel = { ip: rng.pick(p.ips), userAgent: p.userAgent };
    const f = this.base(g, app, t, client);
    f.httpVersion = "HTTP/1.1";
    f.certFingerprint = p.fingerprint;
    f.certIssuer = p.issuer;
    const o = this.partner();
    if (incident === "expired_client_certificates" && pi === 0) {
      const fail = (x: RequestFields): void => {
        x.method = o.method;
        x.uri = o.uri;
        x.query = o.query;
        x.receivedBytes = o.receivedBytes;
        x.status = 400;
        x.sslClientVerify = "FAILED:certificate has expired";
        x.certFingerprint = p.fingerprint;
        x.certIssuer = p.issuer;
        x.timeTaken = 0.001 + rng.next() * 0.002;
        x.sentBytes = rng.int(240, 300);
        x.contentType = "text/html";
        x.errorInfo = "ERRORINFO_HTTPS_NO_CERT";
      };
      fail(f);
      this.emit(g, out, f);
      if (rng.chance(0.5)) {
        const retry = this.base(g, app, t + rng.int(1000, 5000), client);
        retry.httpVersion = "HTTP/1.1";
        fail(retry);
        this.emit(g, out, retry);
      }
      return "expired_client_certificates";
    }
    f.sslClientVerify = "SUCCESS";
    this.served(f, app, o);
    this.emit(g, out, f);
    if (g.wafMode !== null && o.method === "POST" && rng.chance(0.01)) {
      // Free-text shipment notes trip a SQLi pattern; Detection mode logs it and lets it through.
      const data = "Leave at dock 3, 'rear entrance', call ahead";
      const rules: WafRuleKey[] = ["r942200", "r942260"];
      const score = anomalyScore(rules);
      this.emitWaf(g, out, f, [
        ...rules.map((k) => hit(k, "ARGS:json.notes", data)),
        anomalyHit(score, g.wafMode === "Prevention" ? "Prevention" : "Detection"),
      ]);
    }
    return null;
  }

  private downloadRequest(
    g: GatewayModel,
    app: AppModel,
    t: number,
    out: GatewayOutput,
    incident: DemoIncidentId | null,
  ): DemoIncidentId | null {
    const rng = this.rng;
    const f = this.base(g, app, t, this.popularClient());
    const o = this.download();
    this.served(f, app, o);
    if (incident === "aborted_downloads" && o.size > 10_000_000 && rng.chance(0.6)) {
      const sent = Math.floor(o.size * rng.next() * 0.8);
      f.status = 499;
      f.sentBytes = sent;
      f.timeTaken = rng.logNormal(25, 0.8);
      f.errorInfo = "ERRORINFO_CLIENT_CLOSED_REQUEST";
      this.emit(g, out, f);
      return "aborted_downloads";
    }
    this.emit(g, out, f);
    return null;
  }

  private session(g: GatewayModel, app: AppModel, t: number, out: GatewayOutput): void {
    const rng = this.rng;
    const r = rng.next();
    const serverStatus = r < 0.97 ? "200" : r < 0.985 ? "502" : r < 0.995 ? "400" : "503";
    const ok = serverStatus === "200";
    const sessionTime = ok ? rng.logNormal(180, 1.2) : rng.next() * 0.05;
    out.access.push(
      renderL4(g, {
        timeMs: Math.floor(t),
        instanceId: rng.pick(g.instances),
        app,
        clientIp: rng.pick(this.topo.devices),
        clientPort: rng.int(1024, 65535),
        receivedBytes: ok ? rng.int(2_000, 600_000) : rng.int(0, 600),
        sentBytes: ok ? rng.int(1_000, 200_000) : 0,
        sessionTime,
        upstreamSessionTime: ok ? Math.max(0, sessionTime - rng.next() * 0.02) : 0,
        serverRouted: serverStatus === "502" ? "" : rng.pick(app.backends),
        serverStatus,
      }),
    );
  }

  // ---- incident extras and background noise that add requests ----

  /** A SQL injection attempt blocked by the WAF: a 403 access record plus its firewall records. */
  wafAttack(g: GatewayModel, app: AppModel, t: number, out: GatewayOutput, cycle: number): void {
    const rng = this.rng;
    const attacker = ATTACKERS[cycle % ATTACKERS.length] as string;
    const f = this.base(g, app, t, {
      ip: rng.chance(0.8) ? attacker : rng.pick(ATTACKERS),
      userAgent: "sqlmap/1.7.2#stable (https://sqlmap.org)",
    });
    const s = rng.pick(SQLI_ATTACKS);
    this.blocked(g, f, s, out);
  }

  /** Scanner noise against the shop: blocked by the WAF. */
  scan(g: GatewayModel, app: AppModel, t: number, out: GatewayOutput): void {
    const rng = this.rng;
    const f = this.base(g, app, t, { ip: rng.pick(ATTACKERS), userAgent: rng.pick(SCANNER_AGENTS) });
    this.blocked(g, f, rng.pick(SCANS), out);
  }

  private blocked(g: GatewayModel, f: RequestFields, s: AttackScenario, out: GatewayOutput): void {
    const rng = this.rng;
    f.httpVersion = "HTTP/1.1";
    f.uri = s.uri;
    f.query = s.query;
    f.status = 403;
    f.serverStatus = "";
    f.serverRouted = "";
    f.serverLatency = null;
    f.timeTaken = 0.001 + rng.next() * 0.004;
    f.wafEvaluationTime = rng.chance(0.6) ? "0.001" : "0.002";
    f.sentBytes = rng.int(320, 380);
    f.contentType = "text/html";
    this.emit(g, out, f);
    const score = anomalyScore(s.rules);
    this.emitWaf(g, out, f, [
      ...s.rules.map((k) => hit(k, s.variable, s.data)),
      anomalyHit(Math.max(score, 5), "Prevention"),
    ]);
  }

  /** A request for a host name no listener serves: 404 `ERRORINFO_INVALID_HOST`, no backend. */
  noListener(g: GatewayModel, t: number, out: GatewayOutput, host: string | null): void {
    const rng = this.rng;
    const scanner = host === null;
    const client = scanner
      ? { ip: rng.pick(ATTACKERS), userAgent: rng.pick(SCANNER_AGENTS) }
      : this.popularClient();
    const f = this.base(g, null, t, client);
    f.host = host ?? g.frontendIp;
    f.httpVersion = "HTTP/1.1";
    f.uri = scanner
      ? rng.pick(NO_LISTENER_PATHS)
      : rng.pick(["/", `/products/${rng.pick(PRODUCTS)}`, `/category/${rng.pick(CATEGORIES)}`]);
    f.status = 404;
    f.timeTaken = 0.001;
    f.wafEvaluationTime = "0.000";
    f.sentBytes = rng.int(190, 240);
    f.contentType = "text/html";
    f.errorInfo = "ERRORINFO_INVALID_HOST";
    this.emit(g, out, f);
  }

  /** The internal security process of the gateway (`127.0.0.1`), which the spec sets aside. */
  internalProbe(g: GatewayModel, app: AppModel, t: number, out: GatewayOutput): void {
    const rng = this.rng;
    const f = this.base(g, app, t, { ip: "127.0.0.1", userAgent: "-" });
    f.host = "127.0.0.1";
    f.httpVersion = "HTTP/1.1";
    f.status = 200;
    f.serverStatus = "200";
    f.serverRouted = rng.pick(app.backends.length > 0 ? app.backends : ["127.0.0.1:80"]);
    f.serverLatency = rng.logNormal(0.004, 0.3);
    f.timeTaken = f.serverLatency + 0.001;
    f.upstreamSourcePort = String(rng.int(1024, 65535));
    f.sentBytes = rng.int(600, 900);
    f.contentType = "text/html";
    this.emit(g, out, f);
  }
}
