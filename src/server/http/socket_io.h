// Socket plumbing for the HTTP layer: the listening socket, and writes that give
// up when a client stops reading.
#pragma once
#include <chrono>
#include <string>
#include <string_view>

namespace pocketllm::server::http {

// A non-blocking listening socket on host:port (port 0: any free port) with
// SO_REUSEADDR only (SO_REUSEPORT would let a second server share a busy port)
// and the kernel's largest backlog. Sets `bound_port`; throws Error on failure.
int listen_socket(const std::string& host, int port, int& bound_port);

// Writes all of `data` to a non-blocking socket, waiting at most `timeout` for
// each stretch in which the client reads nothing. False when the client is gone
// or too slow.
bool send_all(int fd, std::string_view data, std::chrono::milliseconds timeout);

// One non-blocking attempt to write `data` whole (small answers from the event
// loop, which must never wait on a client). False when it did not all go out.
bool send_now(int fd, std::string_view data);

// Raises the soft limit on open files towards `wanted` (up to the hard limit);
// returns the limit now in force.
size_t raise_open_file_limit(size_t wanted);

}  // namespace pocketllm::server::http
