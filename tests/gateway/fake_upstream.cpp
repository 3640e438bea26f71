#include "fake_upstream.hpp"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace osprey::gwtest {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

// ---------------------------------------------------------------- PKI ----

namespace {

EVP_PKEY* new_key() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  if (!k) throw std::runtime_error("EVP_EC_gen failed");
  return k;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) throw std::runtime_error("bad extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* new_cert(EVP_PKEY* key, const char* cn, long serial, X509* issuer, EVP_PKEY* issuer_key, const std::string& san) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509* iss = issuer ? issuer : x;
  if (!issuer) {
    add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(x, iss, NID_subject_key_identifier, "hash");
  } else {
    add_ext(x, iss, NID_basic_constraints, "CA:FALSE");
    add_ext(x, iss, NID_subject_alt_name, san.c_str());
    add_ext(x, iss, NID_ext_key_usage, "serverAuth");
  }
  X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
  return x;
}

std::string pem_cert(X509* x) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  std::string s(p, n);
  BIO_free(b);
  return s;
}

std::string pem_key(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  std::string s(p, n);
  BIO_free(b);
  return s;
}

}  // namespace

TestPki::TestPki(const std::string& dir, const std::string& san) {
  EVP_PKEY* ca_key = new_key();
  X509* ca = new_cert(ca_key, "Osprey Test CA", 1, nullptr, nullptr, {});
  EVP_PKEY* srv_key = new_key();
  X509* srv = new_cert(srv_key, "127.0.0.1", 2, ca, ca_key, san);
  ca_file = dir + "/ca.pem";
  std::ofstream(ca_file) << pem_cert(ca);
  cert_pem = pem_cert(srv);
  key_pem = pem_key(srv_key);
  X509_free(srv);
  X509_free(ca);
  EVP_PKEY_free(srv_key);
  EVP_PKEY_free(ca_key);
}

// ------------------------------------------------------------ server ----

struct FakeUpstream::Impl {
  asio::io_context io;
  std::unique_ptr<asio::ssl::context> tls;
  tcp::acceptor acceptor{io};
  std::thread thread;
  mutable std::mutex mu;
  std::vector<RecordedRequest> requests;
  std::function<Script(const RecordedRequest&)> handler;
  FakeUpstream* self = nullptr;

  tcp::socket& sock(tcp::socket& s) { return s; }
  tcp::socket& sock(asio::ssl::stream<tcp::socket>& s) { return s.next_layer(); }

  template <class S>
  asio::awaitable<void> serve(S& s) {
    boost::beast::flat_buffer buf;
    boost::system::error_code ec;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      co_await bhttp::async_read(s, buf, req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      RecordedRequest rec;
      rec.method = std::string(req.method_string());
      rec.target = std::string(req.target());
      rec.body = req.body();
      for (const auto& f : req) {
        std::string n(f.name_string());
        for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        rec.headers[n] = std::string(f.value());
      }
      std::function<Script(const RecordedRequest&)> h;
      {
        std::lock_guard lock(mu);
        requests.push_back(rec);
        h = handler;
      }
      Script sc = h ? h(rec) : FakeUpstream::json(404, R"({"error":{"message":"no handler","type":"invalid_request_error"}})");
      for (auto& a : sc) {
        switch (a.kind) {
          case Action::send:
            co_await asio::async_write(s, asio::buffer(a.bytes), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
              self->saw_client_close = true;
              co_return;
            }
            break;
          case Action::delay: {
            asio::steady_timer t(io, std::chrono::milliseconds(a.ms));
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            break;
          }
          case Action::gate: {
            auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (!a.flag->load()) {
              if (std::chrono::steady_clock::now() > until) {
                self->gate_timed_out = true;
                break;
              }
              asio::steady_timer t(io, std::chrono::milliseconds(1));
              co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            }
            break;
          }
          case Action::reset:
            sock(s).set_option(asio::socket_base::linger(true, 0), ec);
            sock(s).close(ec);
            co_return;
          case Action::close:
            sock(s).shutdown(tcp::socket::shutdown_both, ec);
            sock(s).close(ec);
            co_return;
          case Action::drip:
            for (int i = 0; i < a.count; ++i) {
              co_await asio::async_write(s, asio::buffer(a.bytes), asio::redirect_error(asio::use_awaitable, ec));
              if (ec) {
                self->saw_client_close = true;
                co_return;
              }
              asio::steady_timer t(io, std::chrono::milliseconds(a.ms));
              co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            }
            break;
        }
      }
    }
  }

  asio::awaitable<void> session(tcp::socket s) {
    self->connections_++;
    if (tls) {
      asio::ssl::stream<tcp::socket> ss(std::move(s), *tls);
      boost::system::error_code ec;
      co_await ss.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      co_await serve(ss);
    } else {
      co_await serve(s);
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket s = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(io, session(std::move(s)), asio::detached);
    }
  }
};

FakeUpstream::FakeUpstream(const TestPki* pki) : impl_(std::make_unique<Impl>()) {
  impl_->self = this;
  if (pki) {
    impl_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    impl_->tls->use_certificate_chain(asio::buffer(pki->cert_pem));
    impl_->tls->use_private_key(asio::buffer(pki->key_pem), asio::ssl::context::pem);
  }
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

FakeUpstream::~FakeUpstream() {
  impl_->io.stop();
  impl_->thread.join();
}

std::string FakeUpstream::base_url() const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + "/v1";
}

void FakeUpstream::on(std::function<Script(const RecordedRequest&)> handler) {
  std::lock_guard lock(impl_->mu);
  impl_->handler = std::move(handler);
}

std::vector<RecordedRequest> FakeUpstream::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->requests;
}

Script FakeUpstream::json(int status, const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n";
  for (const auto& [k, v] : headers) r += k + ": " + v + "\r\n";
  r += "\r\n" + body;
  return {Action{Action::send, r}};
}

std::string FakeUpstream::sse_head() {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
}

std::string FakeUpstream::chunk(std::string_view data) {
  char len[32];
  std::snprintf(len, sizeof len, "%zx\r\n", data.size());
  return std::string(len) + std::string(data) + "\r\n";
}

// -------------------------------------------------------------- sink ----

http::Awaitable<void> FakeSink::begin(http::Response h) {
  head = std::move(h);
  started_ = true;
  co_return;
}

http::Awaitable<void> FakeSink::write(std::string_view c) {
  if (fail_after_writes >= 0 && static_cast<int>(chunks.size()) >= fail_after_writes) {
    throw boost::system::system_error(boost::asio::error::broken_pipe);
  }
  head_sent = true;
  chunks.emplace_back(c);
  if (on_write) on_write(c);
  co_return;
}

http::Awaitable<void> FakeSink::end(std::string_view last_chunk) {
  if (!last_chunk.empty()) co_await write(last_chunk);
  head_sent = true;
  ended = true;
}

http::Awaitable<void> FakeSink::flush() {
  if (!started_ || head_sent) co_return;
  head_sent = true;
  ++head_flushes;
  if (on_flush) on_flush();
}

std::string FakeSink::all() const {
  std::string s;
  for (const auto& c : chunks) s += c;
  return s;
}

}  // namespace osprey::gwtest
