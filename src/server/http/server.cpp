#include "server/http/server.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/error.h"
#include "server/http/socket_io.h"
#include "server/http/worker_pool.h"

namespace pocketllm::server::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A client socket with its request parser, counted in one of the server's
// counters (open, or lingering). Only the event loop closes it.
struct Connection {
  Connection(int f, const ParserLimits& limits, std::atomic<size_t>& counter)
      : fd(f), parser(limits), counter_(&counter) {
    counter_->fetch_add(1);
  }
  ~Connection() {
    ::close(fd);
    counter_->fetch_sub(1);
  }
  void count_in(std::atomic<size_t>& counter) {
    counter_->fetch_sub(1);
    counter_ = &counter;
    counter_->fetch_add(1);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  enum class Wait { Idle, Request, Linger };
  enum class After { Reuse, Linger, Close };  // what a worker asks for once it has answered
  int fd;
  RequestParser parser;
  Wait wait = Wait::Idle;
  After after = After::Reuse;
  Clock::time_point deadline, started = Clock::now();
  bool peer_eof = false;

 private:
  std::atomic<size_t>* counter_;
};
using ConnPtr = std::unique_ptr<Connection>;

int ms_until(Clock::time_point t, Clock::time_point now) {
  if (t <= now) return 0;
  return static_cast<int>(std::chrono::ceil<milliseconds>(t - now).count());
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double seconds(milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

}  // namespace

struct Server::Impl {
  Impl(ServerLimits l, ServerHooks h) : lim(l), hooks(std::move(h)), rbuf(64u << 10) {
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (wake_fd < 0 || epoll_fd < 0) fail("cannot create the server's event loop");
  }
  ~Impl() {
    conns.clear();
    if (listen_fd >= 0) ::close(listen_fd);
    ::close(epoll_fd);
    ::close(wake_fd);
  }

  enum class Read { Keep, Close, Dispatch };

  void step();
  void accept_all();
  void refuse(int fd);
  Read on_readable(Connection& c);
  bool answer_and_linger(Connection& c, int status, const std::string& message);
  bool linger(Connection& c);
  void dispatch(ConnPtr c);
  void serve(ConnPtr c);
  void take_returned();
  void resume(ConnPtr c);
  void expire();
  void shut_down();
  void watch(int fd, bool on) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev);
  }
  void wake() {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd, &one, sizeof one);
  }

  ServerLimits lim;
  ServerHooks hooks;
  std::vector<char> rbuf;
  int listen_fd = -1, epoll_fd = -1, wake_fd = -1;
  std::atomic<bool> stop_requested{false}, is_running{false};
  std::unordered_map<int, ConnPtr> conns;  // the loop's: idle, reading a request, or lingering
  std::atomic<size_t> open{0};             // connections that may send requests (workers' included)
  std::atomic<size_t> lingering{0};        // answered for the last time, closing: not under the cap
  bool accepting = true;
  Clock::time_point accept_again;
  std::mutex mu;                      // guards returned and in_flight
  std::vector<ConnPtr> returned;      // answered by a worker
  std::unordered_set<int> in_flight;  // sockets a worker is serving
  std::unique_ptr<WorkerPool<ConnPtr>> pool;
};

Server::Server(ServerLimits limits, ServerHooks hooks) : impl_(std::make_unique<Impl>(limits, std::move(hooks))) {}
Server::~Server() = default;

int Server::bind(const std::string& host, int port) {
  Impl& s = *impl_;
  // Each connection is a descriptor: up to the cap open, as many lingering.
  raise_open_file_limit(2 * s.lim.max_connections + 64);
  int bound = 0;
  s.listen_fd = listen_socket(host, port, bound);
  return bound;
}

void Server::stop() {
  impl_->stop_requested.store(true);
  impl_->wake();
}

bool Server::running() const { return impl_->is_running.load(); }

void Server::run() {
  Impl& s = *impl_;
  if (s.listen_fd < 0) fail("the server is not bound to a port");
  s.is_running.store(true);
  s.pool = std::make_unique<WorkerPool<ConnPtr>>(s.lim.max_workers, [&s](ConnPtr c) { s.serve(std::move(c)); });
  s.watch(s.wake_fd, true);
  s.watch(s.listen_fd, true);
  while (!s.stop_requested.load()) s.step();
  s.shut_down();
  s.is_running.store(false);
}

void Server::Impl::step() {
  Clock::time_point now = Clock::now();
  int timeout = 1000;
  for (auto& [fd, c] : conns) timeout = std::min(timeout, ms_until(c->deadline, now));
  if (!accepting) timeout = std::min(timeout, ms_until(accept_again, now));
  epoll_event events[64];
  const int n = epoll_wait(epoll_fd, events, 64, timeout);
  take_returned();  // first: a connection a worker is done with no longer counts as open
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    if (fd == wake_fd) {
      uint64_t v;
      [[maybe_unused]] const ssize_t r = ::read(wake_fd, &v, sizeof v);
    } else if (fd == listen_fd) {
      accept_all();
    } else if (auto it = conns.find(fd); it != conns.end()) {
      const Read r = on_readable(*it->second);
      if (r == Read::Close) {
        conns.erase(it);
      } else if (r == Read::Dispatch) {
        ConnPtr c = std::move(it->second);
        conns.erase(it);
        dispatch(std::move(c));
      }
    }
  }
  expire();
  if (!accepting && Clock::now() >= accept_again) {
    accepting = true;
    watch(listen_fd, true);
  }
}

void Server::Impl::accept_all() {
  for (;;) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop accepting for a moment instead of spinning on the listener.
        accepting = false;
        accept_again = Clock::now() + milliseconds(100);
        watch(listen_fd, false);
      }
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // stream chunks leave at once
    if (open.load() >= lim.max_connections) {
      refuse(fd);
      continue;
    }
    auto c = std::make_unique<Connection>(fd, lim.parser, open);
    c->deadline = Clock::now() + lim.idle_timeout;
    watch(fd, true);
    conns.emplace(fd, std::move(c));
  }
}

// Over the connection cap: a 503 at once, then close.
void Server::Impl::refuse(int fd) {
  auto c = std::make_unique<Connection>(fd, lim.parser, open);  // moved to lingering at once
  watch(fd, true);
  if (answer_and_linger(*c, 503,
                        fmt::format("the server has {} connections open, its limit (--max-connections); retry later",
                                    lim.max_connections)))
    conns.emplace(fd, std::move(c));
}

Server::Impl::Read Server::Impl::on_readable(Connection& c) {
  // A bounded number of reads per wake-up, so one fast sender cannot starve the others.
  for (int i = 0; i < 16; ++i) {
    const ssize_t n = ::recv(c.fd, rbuf.data(), rbuf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? Read::Keep : Read::Close;
    }
    if (n == 0) {
      c.peer_eof = true;
      if (c.wait == Connection::Wait::Request) {
        // The client stopped sending halfway through a request: it can never complete.
        answer_and_linger(c, 400, "malformed HTTP request: the client closed before the request was complete");
      }
      return Read::Close;
    }
    if (c.wait == Connection::Wait::Linger) continue;  // dropped: the answer has been given
    const auto st = c.parser.feed(std::string_view(rbuf.data(), static_cast<size_t>(n)));
    if (c.wait == Connection::Wait::Idle && c.parser.started()) {
      c.wait = Connection::Wait::Request;
      c.started = Clock::now();
      c.deadline = c.started + lim.request_timeout;
    }
    if (st == RequestParser::State::Failed)
      return answer_and_linger(c, c.parser.error_status(), c.parser.error_message()) ? Read::Keep : Read::Close;
    if (st == RequestParser::State::Complete) return Read::Dispatch;
    if (c.parser.take_continue_request() && !send_now(c.fd, "HTTP/1.1 100 Continue\r\n\r\n")) return Read::Close;
  }
  return Read::Keep;
}

// Answers from the loop itself (never waiting on the client), then lingers (see
// linger()). False when the connection is to be closed at once.
bool Server::Impl::answer_and_linger(Connection& c, int status, const std::string& message) {
  const Request& cur = c.parser.current();
  Request req;
  req.method = cur.method;
  req.keep_alive = false;
  Exchange ex(c.fd, std::move(req), c.peer_eof, milliseconds(0));
  ex.send(hooks.error(status, message));
  const bool known = !cur.method.empty();
  const bool timed = c.wait == Connection::Wait::Request;
  hooks.log({known ? std::string_view(cur.method) : "-", known ? std::string_view(cur.path) : "-", status, 0,
             timed ? ms_since(c.started) : 0.0});
  return linger(c);
}

// After the last answer: closes the sending side and keeps reading (and dropping)
// for a moment, since closing while the client still sends would reset the
// connection and could destroy the answer unread. Lingering connections are not
// under --max-connections but are capped alike; past that they close at once.
bool Server::Impl::linger(Connection& c) {
  ::shutdown(c.fd, SHUT_WR);
  if (c.wait == Connection::Wait::Linger) return true;
  if (lingering.load() >= lim.max_connections) return false;
  c.count_in(lingering);
  c.wait = Connection::Wait::Linger;
  c.deadline = Clock::now() + lim.linger;
  return true;
}

void Server::Impl::dispatch(ConnPtr c) {
  watch(c->fd, false);
  {
    std::lock_guard<std::mutex> lk(mu);
    in_flight.insert(c->fd);
  }
  pool->submit(std::move(c));
}

// On a worker: runs the handler, logs, and hands the connection back to the loop.
void Server::Impl::serve(ConnPtr c) {
  Exchange ex(c->fd, c->parser.take(), c->peer_eof, lim.write_timeout);
  try {
    hooks.handle(ex);
  } catch (const std::exception& e) {
    if (!ex.responded()) ex.send(hooks.error(500, e.what()));
  } catch (...) {
    if (!ex.responded()) ex.send(hooks.error(500, "internal server error"));
  }
  if (!ex.responded()) ex.send(hooks.error(500, "the request got no answer"));
  const Request& req = ex.request();
  hooks.log({req.method, req.path, ex.status(), ex.log_tokens(), ms_since(c->started)});
  c->peer_eof = ex.peer_eof();
  c->after = ex.reusable() ? Connection::After::Reuse
             : ex.client_gone() ? Connection::After::Close
                                : Connection::After::Linger;
  {
    std::lock_guard<std::mutex> lk(mu);
    in_flight.erase(c->fd);
    returned.push_back(std::move(c));
  }
  wake();
}

void Server::Impl::take_returned() {
  std::vector<ConnPtr> back;
  {
    std::lock_guard<std::mutex> lk(mu);
    back.swap(returned);
  }
  for (ConnPtr& c : back) {
    if (stop_requested.load() || c->after == Connection::After::Close) continue;  // closed here
    if (c->after == Connection::After::Linger) {
      if (!linger(*c)) continue;
      watch(c->fd, true);
      const int fd = c->fd;
      conns.emplace(fd, std::move(c));
      continue;
    }
    resume(std::move(c));
  }
}

// A kept-alive connection back from a worker: a pipelined request may already be buffered.
void Server::Impl::resume(ConnPtr c) {
  c->wait = Connection::Wait::Idle;
  c->deadline = Clock::now() + lim.idle_timeout;
  if (c->parser.has_buffered()) {
    const auto st = c->parser.resume();
    if (c->parser.started()) {
      c->wait = Connection::Wait::Request;
      c->started = Clock::now();
      c->deadline = c->started + lim.request_timeout;
    }
    if (st == RequestParser::State::Complete) {
      dispatch(std::move(c));
      return;
    }
    if (st == RequestParser::State::Failed && !answer_and_linger(*c, c->parser.error_status(), c->parser.error_message()))
      return;
  } else if (c->peer_eof) {
    return;  // nothing more will come: closed
  }
  watch(c->fd, true);
  const int fd = c->fd;
  conns.emplace(fd, std::move(c));
}

void Server::Impl::expire() {
  const Clock::time_point now = Clock::now();
  for (auto it = conns.begin(); it != conns.end();) {
    Connection& c = *it->second;
    if (now < c.deadline) {
      ++it;
    } else if (c.wait == Connection::Wait::Request &&
               answer_and_linger(c, 408, fmt::format("the request was not received within {} s", seconds(lim.request_timeout)))) {
      ++it;
    } else {
      it = conns.erase(it);  // idle past the keep-alive timeout, or done lingering
    }
  }
}

// Stops accepting, closes what is idle, lets requests under way finish for
// stop_grace, then cuts their connections (their handlers see the client gone).
void Server::Impl::shut_down() {
  watch(listen_fd, false);
  ::close(listen_fd);
  listen_fd = -1;
  conns.clear();
  const Clock::time_point cut = Clock::now() + lim.stop_grace;
  bool cut_done = false;
  for (;;) {
    {
      std::lock_guard<std::mutex> lk(mu);
      if (in_flight.empty()) break;
      if (!cut_done && Clock::now() >= cut) {
        for (int fd : in_flight) ::shutdown(fd, SHUT_RDWR);
        cut_done = true;
      }
    }
    epoll_event ev;
    epoll_wait(epoll_fd, &ev, 1, 50);
    take_returned();
  }
  pool->join();
  pool.reset();
  take_returned();
}

}  // namespace pocketllm::server::http
