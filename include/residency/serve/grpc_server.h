// The Envoy ext_authz v3 front end of `residency serve`: envoy.service.auth.v3.Authorization/Check
// over gRPC (Debian's gRPC C++, callback API: checks run on gRPC's event threads).
//
// Mapping (see AuthzMapping): the HTTP request headers (lowercase, as Envoy sends them, or the
// raw header_map), the route's context_extensions and the body when the filter sends it
// (with_request_body) become an inference request. Allow → OK status and ok_response headers
// (x-residency-decision, x-residency-location, x-residency-audit, overwriting any the client
// sent); deny → PERMISSION_DENIED with a 403 denied_response whose body is the decision JSON;
// bad input → INVALID_ARGUMENT with a 400 denied_response.
//
// Thread safety: Start and Stop from one controlling thread.
#ifndef RESIDENCY_SERVE_GRPC_SERVER_H_
#define RESIDENCY_SERVE_GRPC_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "residency/serve/service.h"

namespace envoy::service::auth::v3 {
class CheckRequest;
class CheckResponse;
}  // namespace envoy::service::auth::v3

namespace residency::serve {

struct GrpcOptions {
  std::string address = "127.0.0.1:0";  // HOST:PORT; port 0: any free port
  size_t max_message_bytes = 4u << 20;
  // TLS (PEM text); mTLS when `tls_client_ca` is set (clients must present a certificate).
  std::string tls_cert, tls_key, tls_client_ca;
};

// The mapping from a CheckRequest to the service and back, without a server (used by the server
// and by tests).
void HandleCheck(DecisionService* service, const envoy::service::auth::v3::CheckRequest& request,
                 envoy::service::auth::v3::CheckResponse* response);

class GrpcServer {
 public:
  GrpcServer(DecisionService* service, GrpcOptions options);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  absl::Status Start();
  int port() const { return port_; }
  // Stops accepting calls, waits up to `deadline` for calls in flight, then cancels the rest.
  void Stop(absl::Duration deadline);

 private:
  struct Impl;
  DecisionService* service_;
  GrpcOptions options_;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace residency::serve

#endif  // RESIDENCY_SERVE_GRPC_SERVER_H_
