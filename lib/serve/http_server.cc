#include "residency/serve/http_server.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace residency::serve {

struct HttpServer::Watch {
  int fd = -1;
  absl::Time by = absl::InfiniteFuture();  // guarded by HttpServer::watch_mu_
};

struct HttpServer::Conn {
  std::string body;
  bool too_large = false;
  bool counted = false;  // holds an in-flight slot
  bool answered = false;
  absl::Time start;
};

namespace {

MHD_Result Trampoline(void* cls, MHD_Connection* connection, const char* url, const char* method,
                      const char* /*version*/, const char* upload_data, size_t* upload_data_size,
                      void** con_cls) {
  return static_cast<HttpServer*>(cls)->Handle(connection, url, method, upload_data,
                                               upload_data_size, con_cls) == 1
             ? MHD_YES
             : MHD_NO;
}

void CompletedTrampoline(void* cls, MHD_Connection* connection, void** con_cls,
                         MHD_RequestTerminationCode /*toe*/) {
  static_cast<HttpServer*>(cls)->Completed(connection, con_cls);
}

void ConnectionTrampoline(void* cls, MHD_Connection* connection, void** socket_context,
                          MHD_ConnectionNotificationCode toe) {
  static_cast<HttpServer*>(cls)->ConnectionEvent(connection, socket_context,
                                                 toe == MHD_CONNECTION_NOTIFY_STARTED);
}

void* UriTrampoline(void* cls, const char* /*uri*/, MHD_Connection* connection) {
  static_cast<HttpServer*>(cls)->RequestLineArrived(connection);
  return nullptr;  // the access handler's first call still sees *con_cls == nullptr
}

MHD_Result CollectHeader(void* cls, MHD_ValueKind /*kind*/, const char* key, const char* value) {
  auto* out = static_cast<std::vector<std::pair<std::string, std::string>>*>(cls);
  std::string k(key);
  for (char& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::string v = value ? value : "";
  for (auto& [name, existing] : *out) {
    if (name == k) {  // merged as the HTTP spec allows (and as Envoy sends them)
      existing += ",";
      existing += v;
      return MHD_YES;
    }
  }
  out->emplace_back(std::move(k), std::move(v));
  return MHD_YES;
}

// mTLS: libmicrohttpd asks for a client certificate when given a trust list, but leaves the
// verdict to the application.
bool ClientCertificateVerified(MHD_Connection* conn) {
  const MHD_ConnectionInfo* ti = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (ti == nullptr || ti->tls_session == nullptr) return false;
  auto session = static_cast<gnutls_session_t>(ti->tls_session);
  unsigned int peers = 0;
  if (gnutls_certificate_get_peers(session, &peers) == nullptr || peers == 0) return false;
  unsigned int status = 0;
  return gnutls_certificate_verify_peers2(session, &status) == GNUTLS_E_SUCCESS && status == 0;
}

std::string ErrorBody(std::string_view message) {
  return nlohmann::json{{"error", std::string(message)}}.dump() + "\n";
}

}  // namespace

HttpServer::HttpServer(DecisionService* service, HttpOptions options)
    : service_(service), options_(std::move(options)) {}

HttpServer::~HttpServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

absl::Status HttpServer::Start() {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(options_.port));
  std::string host = options_.host == "localhost" ? "127.0.0.1" : options_.host;
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("http: `", options_.host, "` is not an IPv4 address"));
  }
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  std::vector<MHD_OptionItem> opts;
  opts.push_back({MHD_OPTION_SOCK_ADDR, 0, &addr});
  opts.push_back({MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(options_.threads), nullptr});
  opts.push_back(
      {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(options_.max_connections), nullptr});
  opts.push_back({MHD_OPTION_CONNECTION_TIMEOUT,
                  static_cast<intptr_t>(options_.idle_timeout_seconds), nullptr});
  // The per-connection pool holds the request line and headers; past it the request is refused
  // with 431. Bodies are copied out as they arrive, so they do not count against it.
  opts.push_back({MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                  static_cast<intptr_t>(options_.max_header_bytes + 4096), nullptr});
  opts.push_back(
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&CompletedTrampoline), this});
  opts.push_back({MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, nullptr});
  if (options_.deadline > absl::ZeroDuration()) {
    opts.push_back(
        {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&ConnectionTrampoline), this});
    opts.push_back({MHD_OPTION_URI_LOG_CALLBACK, reinterpret_cast<intptr_t>(&UriTrampoline), this});
  }
  if (!options_.tls_cert.empty()) {
    flags |= MHD_USE_TLS;
    opts.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, options_.tls_cert.data()});
    opts.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, options_.tls_key.data()});
    if (!options_.tls_client_ca.empty()) {
      opts.push_back({MHD_OPTION_HTTPS_MEM_TRUST, 0, options_.tls_client_ca.data()});
    }
  }
  opts.push_back({MHD_OPTION_END, 0, nullptr});
  daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &Trampoline, this, MHD_OPTION_ARRAY,
                             opts.data(), MHD_OPTION_END);
  if (daemon_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("http: cannot listen on ", options_.host, ":", options_.port));
  }
  if (options_.deadline > absl::ZeroDuration()) watchdog_ = std::thread([this] { Watchdog(); });
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info != nullptr ? info->port : options_.port;
  return absl::OkStatus();
}

void HttpServer::Quiesce() {
  if (daemon_ == nullptr) return;
  MHD_socket fd = MHD_quiesce_daemon(daemon_);
  if (fd != MHD_INVALID_SOCKET) close(fd);
}

void HttpServer::Stop(absl::Duration deadline) {
  if (daemon_ == nullptr) return;
  const absl::Time until = absl::Now() + deadline;
  while (inflight_.load() > 0 && absl::Now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    watch_stop_ = true;
  }
  watch_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

void HttpServer::Completed(void* connection, void** con_cls) {
  // The connection now waits for its next request: idle up to the idle timeout, then its line
  // and headers within the deadline.
  ArmWatch(connection,
           absl::Now() + absl::Seconds(options_.idle_timeout_seconds) + options_.deadline,
           /*keep_earlier=*/false);
  auto* c = static_cast<Conn*>(*con_cls);
  if (c == nullptr) return;
  if (c->counted) inflight_.fetch_sub(1);
  delete c;
  *con_cls = nullptr;
}

void HttpServer::ConnectionEvent(void* connection, void** socket_context, bool started) {
  auto* conn = static_cast<MHD_Connection*>(connection);
  std::lock_guard<std::mutex> lock(watch_mu_);
  if (started) {
    auto* w = new Watch();
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    w->fd = info != nullptr ? info->connect_fd : -1;
    // As a connection waiting for its next request (the first one).
    w->by = absl::Now() + absl::Seconds(options_.idle_timeout_seconds) + options_.deadline;
    watches_.push_back(w);
    *socket_context = w;
    return;
  }
  // Closed: libmicrohttpd closes the socket after this returns, so the watchdog (which holds the
  // lock while it shuts sockets down) never touches a descriptor that was reused.
  auto* w = static_cast<Watch*>(*socket_context);
  if (w == nullptr) return;
  watches_.erase(std::remove(watches_.begin(), watches_.end(), w), watches_.end());
  delete w;
  *socket_context = nullptr;
}

void HttpServer::RequestLineArrived(void* connection) {
  // From the request line, its headers must arrive within the deadline (an earlier bound, from
  // the connection waiting for it, stands).
  ArmWatch(connection, absl::Now() + options_.deadline, /*keep_earlier=*/true);
}

void HttpServer::ArmWatch(void* connection, absl::Time by, bool keep_earlier) {
  if (options_.deadline <= absl::ZeroDuration()) return;
  const MHD_ConnectionInfo* info = MHD_get_connection_info(static_cast<MHD_Connection*>(connection),
                                                           MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  if (info == nullptr || info->socket_context == nullptr) return;
  auto* w = static_cast<Watch*>(info->socket_context);
  std::lock_guard<std::mutex> lock(watch_mu_);
  w->by = keep_earlier ? std::min(w->by, by) : by;
}

void HttpServer::Watchdog() {
  const absl::Duration tick =
      std::max(absl::Milliseconds(20), std::min(absl::Milliseconds(250), options_.deadline / 4));
  std::unique_lock<std::mutex> lock(watch_mu_);
  while (!watch_stop_) {
    watch_cv_.wait_for(lock, absl::ToChronoMilliseconds(tick));
    if (watch_stop_) break;
    const absl::Time now = absl::Now();
    for (Watch* w : watches_) {
      if (w->fd < 0 || now <= w->by) continue;
      // Its request line or headers are too slow: end the connection (libmicrohttpd sees the
      // socket fail and closes it; nothing was decided).
      ::shutdown(w->fd, SHUT_RDWR);
      w->by = absl::InfiniteFuture();
      service_->metrics().CountBadRequest();
    }
  }
}

int HttpServer::Respond(void* connection, Conn* c, int status, const std::string& body,
                        const char* content_type,
                        const std::vector<std::pair<std::string, std::string>>* headers) {
  auto* conn = static_cast<MHD_Connection*>(connection);
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                    MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) return 0;
  MHD_add_response_header(r, "Content-Type", content_type);
  if (headers != nullptr) {
    for (const auto& [k, v] : *headers) MHD_add_response_header(r, k.c_str(), v.c_str());
  }
  MHD_Result ret = MHD_queue_response(conn, static_cast<unsigned>(status), r);
  MHD_destroy_response(r);
  c->answered = true;
  service_->metrics().CountResponse("http", status);
  return ret == MHD_YES ? 1 : 0;
}

int HttpServer::Handle(void* connection, const char* url, const char* method,
                       const char* upload_data, size_t* upload_data_size, void** con_cls) {
  auto* conn = static_cast<MHD_Connection*>(connection);
  auto* c = static_cast<Conn*>(*con_cls);
  if (c == nullptr) {  // headers complete: admit or refuse before reading the body
    // The header phase is over (the body's own deadline takes over).
    ArmWatch(conn, absl::InfiniteFuture(), /*keep_earlier=*/false);
    c = new Conn();
    c->start = absl::Now();
    *con_cls = c;
    if (inflight_.fetch_add(1) >= static_cast<int>(options_.max_inflight)) {
      inflight_.fetch_sub(1);
      return Respond(conn, c, 503, ErrorBody("too many requests in flight"), "application/json");
    }
    c->counted = true;
    if (!options_.tls_client_ca.empty() && !ClientCertificateVerified(conn)) {
      return Respond(conn, c, 403,
                     ErrorBody("a client certificate signed by the configured CA is required"),
                     "application/json");
    }
    const char* len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (len != nullptr && std::strtoull(len, nullptr, 10) > options_.max_body_bytes) {
      c->too_large = true;
      return Respond(conn, c, 413,
                     ErrorBody(absl::StrCat("body exceeds ", options_.max_body_bytes, " bytes")),
                     "application/json");
    }
    return 1;
  }
  if (c->answered) {  // answered early (413, 503, 408): discard the rest of the body
    *upload_data_size = 0;
    return 1;
  }
  // A body still arriving past the deadline (a client too slow, or dripping bytes to hold the
  // connection): the connection is closed, nothing decided. (libmicrohttpd cannot answer in the
  // middle of an upload; a gateway reads the closed connection as a failure, so a refusal.)
  if (options_.deadline > absl::ZeroDuration() && absl::Now() - c->start > options_.deadline) {
    service_->metrics().CountBadRequest();
    return 0;
  }
  if (*upload_data_size != 0) {
    if (!c->too_large) {
      if (c->body.size() + *upload_data_size > options_.max_body_bytes) {
        c->too_large = true;
        c->body.clear();
      } else {
        c->body.append(upload_data, *upload_data_size);
      }
    }
    *upload_data_size = 0;
    return 1;
  }
  if (c->too_large) {
    return Respond(conn, c, 413,
                   ErrorBody(absl::StrCat("body exceeds ", options_.max_body_bytes, " bytes")),
                   "application/json");
  }

  std::string_view path(url);
  std::string_view m(method);
  int status = 500;
  int rc = 0;
  if (path == "/v1/check" || path == "/v1/check/batch" || path == "/v1/tag") {
    if (m != "POST") {
      status = 405;
      rc = Respond(conn, c, status, ErrorBody("use POST"), "application/json");
    } else {
      const char* lang_header = MHD_lookup_connection_value(
          conn, MHD_HEADER_KIND, service_->options().authz.lang_header.c_str());
      const std::string_view lang = lang_header ? lang_header : "";
      CheckAnswer a = path == "/v1/check"         ? service_->Check(c->body, lang)
                      : path == "/v1/check/batch" ? service_->CheckBatch(c->body, c->start, lang)
                                                  : service_->Tag(c->body);
      status = a.http_status;
      rc = Respond(conn, c, status, a.body,
                   path == "/v1/check/batch" ? "application/x-ndjson" : "application/json");
    }
  } else if (path == "/v1/authz" ||
             absl::StartsWith(absl::string_view(path.data(), path.size()), "/v1/authz/")) {
    AuthzInput in;
    in.start = c->start;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, &CollectHeader, &in.headers);
    if (!c->body.empty()) in.body = std::move(c->body);
    const MHD_ConnectionInfo* ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != nullptr && ci->client_addr != nullptr && ci->client_addr->sa_family == AF_INET) {
      char buf[INET_ADDRSTRLEN];
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ci->client_addr);
      if (inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf))) in.peer = buf;
    }
    AuthzAnswer a = service_->Authz(in);
    // auth_request and http_service read only 2xx as allow; every refusal, bad input included,
    // is a 403 (nginx turns any other status into a 500).
    status = a.allow ? 200 : 403;
    rc = Respond(conn, c, status, a.body, "application/json", &a.headers);
  } else if (path == "/healthz") {
    status = 200;
    rc = Respond(conn, c, status, "ok\n", "text/plain");
  } else if (path == "/readyz") {
    status = service_->ready() ? 200 : 503;
    rc = Respond(conn, c, status, status == 200 ? "ready\n" : "not ready\n", "text/plain");
  } else if (path == "/metrics") {
    status = 200;
    rc = Respond(conn, c, status, service_->RenderMetrics(), "text/plain; version=0.0.4");
  } else {
    status = 404;
    rc = Respond(conn, c, status,
                 ErrorBody(absl::StrCat("no such endpoint `", std::string(path), "`")),
                 "application/json");
  }
  if (options_.access_log != nullptr) {
    std::string line =
        nlohmann::json{
            {"ts", absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone())},
            {"proto", "http"},
            {"method", std::string(m)},
            {"path", std::string(path)},
            {"status", status},
            {"us", absl::ToInt64Microseconds(absl::Now() - c->start)}}
            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line += "\n";
    std::lock_guard<std::mutex> lock(log_mu_);
    std::fwrite(line.data(), 1, line.size(), options_.access_log);
    std::fflush(options_.access_log);
  }
  return rc;
}

}  // namespace residency::serve
