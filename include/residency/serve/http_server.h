// The HTTP front end of `residency serve`, on GNU libmicrohttpd (epoll, a fixed pool of threads
// that each serve many keep-alive connections; no thread per connection).
//
//   GET  /healthz            200 while the process runs
//   GET  /readyz             200 with a policy snapshot, 503 without one or while draining
//   GET  /metrics            Prometheus text format
//   POST /v1/check           request JSON/YAML → decision JSON (as `residency check`)
//   POST /v1/check/batch     JSON lines → decision lines (as `residency check --batch`)
//   POST /v1/tag             one `residency tag` input line → its result line
//   *    /v1/authz[/...]     nginx auth_request / Envoy http_service: 200 allow, 403 deny
//
// Thread safety: Start, Quiesce and Stop from one controlling thread.
#ifndef RESIDENCY_SERVE_HTTP_SERVER_H_
#define RESIDENCY_SERVE_HTTP_SERVER_H_

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "residency/serve/service.h"

struct MHD_Daemon;

namespace residency::serve {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port (see HttpServer::port)
  unsigned threads = 2;
  size_t max_body_bytes = 4u << 20;     // 413 past it
  size_t max_header_bytes = 16u << 10;  // request line + headers; 431 past it
  unsigned max_connections = 4096;      // further connections are refused
  unsigned max_inflight = 1024;         // requests being decided at once; 503 past it
  unsigned idle_timeout_seconds = 10;   // a connection idle (or a client this slow) is closed
  // Longest a request may take to arrive: from its request line to its last header, and from its
  // headers to its whole body (past either the connection is closed, nothing decided; zero:
  // none). A connection waiting for its next request may first be idle for up to
  // `idle_timeout_seconds`. The service's own deadline (ServiceOptions::deadline) then bounds the
  // deciding.
  absl::Duration deadline = absl::Seconds(5);
  std::FILE* access_log = nullptr;  // one JSON line per request, when set
  // TLS (PEM text); mTLS when `tls_client_ca` is set (clients must present a certificate).
  std::string tls_cert, tls_key, tls_client_ca;
};

class HttpServer {
 public:
  HttpServer(DecisionService* service, HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  absl::Status Start();
  int port() const { return port_; }
  // Stops accepting connections; requests in flight go on.
  void Quiesce();
  // Waits up to `deadline` for requests in flight, then closes every connection.
  void Stop(absl::Duration deadline);
  int inflight() const { return inflight_.load(); }

  // libmicrohttpd callbacks (public for the C trampolines).
  struct Conn;
  int Handle(void* connection, const char* url, const char* method, const char* upload_data,
             size_t* upload_data_size, void** con_cls);
  void Completed(void* connection, void** con_cls);
  // A connection opened (`started`) or closed; the request line of a request arrived.
  void ConnectionEvent(void* connection, void** socket_context, bool started);
  void RequestLineArrived(void* connection);

 private:
  int Respond(void* connection, Conn* c, int status, const std::string& body,
              const char* content_type,
              const std::vector<std::pair<std::string, std::string>>* headers = nullptr);

  DecisionService* service_;
  HttpOptions options_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
  std::atomic<int> inflight_{0};
  std::mutex log_mu_;
  // The header-phase watchdog: each open connection with the time by which its current request's
  // line and headers must have arrived; past it the socket is shut down (a client dripping its
  // headers cannot hold a connection).
  struct Watch;
  // Sets when the connection's current line and headers must be in (`keep_earlier`: unless an
  // earlier time is already set).
  void ArmWatch(void* connection, absl::Time by, bool keep_earlier);
  void Watchdog();
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  std::vector<Watch*> watches_;  // guarded by watch_mu_
  bool watch_stop_ = false;      // guarded by watch_mu_
  std::thread watchdog_;
};

}  // namespace residency::serve

#endif  // RESIDENCY_SERVE_HTTP_SERVER_H_
