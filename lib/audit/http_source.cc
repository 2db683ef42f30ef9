// Reading published tiles over HTTP(S) with libcurl (Debian's libcurl4-openssl-dev).
#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "audit/tiles.h"

namespace residency::audit {
namespace {

constexpr size_t kMaxResponseBytes = 64u << 20;

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

size_t OnData(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * n > kMaxResponseBytes) return 0;  // aborts the transfer
  out->append(data, size * n);
  return size * n;
}

// One connection reused for every fetch (keep-alive); one thread at a time.
class HttpTileSource : public TileSource {
 public:
  explicit HttpTileSource(std::string base) : base_(std::move(base)) {
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
  }

  absl::Status Init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    curl_.reset(curl_easy_init());
    if (!curl_) return absl::InternalError("cannot initialise libcurl");
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Get(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    const std::string url = base_ + "/" + path;
    std::string body;
    CURL* c = curl_.get();
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnData);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // gzip and identity, decoded by libcurl
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "residency-audit");
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
      return absl::UnavailableError(
          absl::StrCat("cannot fetch `", url, "`: ", curl_easy_strerror(rc)));
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status == 404 || status == 410) {
      return absl::NotFoundError(absl::StrCat("`", url, "`: http ", status));
    }
    if (status != 200) {
      return absl::UnavailableError(absl::StrCat("`", url, "`: http ", status));
    }
    return body;
  }
  std::string Describe() const override { return base_; }

 private:
  std::string base_;
  std::mutex mu_;
  std::unique_ptr<CURL, CurlDeleter> curl_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TileSource>> OpenHttpTileSource(const std::string& url) {
  auto s = std::make_unique<HttpTileSource>(url);
  if (absl::Status st = s->Init(); !st.ok()) return st;
  return std::unique_ptr<TileSource>(std::move(s));
}

}  // namespace residency::audit
