#include "hub/download.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "hub/checksum.h"
#include "hub/file_lock.h"
#include "hub/hub_api.h"
#include "hub/hub_errors.h"
#include "hub/progress.h"

namespace fs = std::filesystem;

namespace pocketllm::hub {

namespace {

// Answers that end early without an error, or refuse a Range, tolerated in one run
// (a cut connection is resumed as long as each connection brings bytes).
constexpr int kMaxCuts = 5;

// "bytes START-END/TOTAL" -> START
std::optional<uint64_t> content_range_start(const std::string& v) {
  if (!v.starts_with("bytes ")) return std::nullopt;
  try {
    size_t used = 0;
    const uint64_t start = std::stoull(v.substr(6), &used);
    return v.size() > 6 + used && v[6 + used] == '-' ? std::optional<uint64_t>(start) : std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void check_free_space(const fs::path& dir, uint64_t needed, const std::string& file) {
  struct statvfs st {};
  if (needed == 0 || ::statvfs(dir.c_str(), &st) != 0) return;
  const uint64_t avail = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  if (avail < needed)
    fail("not enough disk space for {}: it needs {} more, {} has {} free. Free some space (or set HF_HUB_CACHE to "
         "another disk) and run the command again",
         file, human_bytes(static_cast<double>(needed)), dir.string(), human_bytes(static_cast<double>(avail)));
}

// The partial download on disk and everything that follows its bytes.
class PartialFile {
 public:
  PartialFile(const fs::path& path, const FileMeta& meta, const std::string& label)
      : path_(path), meta_(meta), want_(expected_checksum(meta.etag, meta.lfs)), sha_(Digest::Kind::Sha256) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("{}: cannot create: {}", path.string(), std::strerror(errno));
    struct stat st {};
    ::fstat(fd_, &st);
    have_ = static_cast<uint64_t>(st.st_size);
    if (meta.size && have_ > *meta.size) truncate();  // not a prefix of this file
    if (streaming() && have_ > 0) hash_file_into(sha_, path.string());
    progress_.emplace(label, meta.size.value_or(0), have_);
  }
  ~PartialFile() {
    if (fd_ >= 0) ::close(fd_);
  }

  uint64_t have() const { return have_; }
  bool complete() const { return meta_.size && have_ == *meta_.size; }
  const std::string& write_error() const { return write_error_; }
  const ExpectedChecksum& expected() const { return want_; }
  Progress& progress() { return *progress_; }

  // A 2xx answer arrived: 200 to a Range request means the whole file again.
  bool start(const HttpResponse& r, std::string* error) {
    if (have_ > 0 && r.status == 200) {
      restart();
    } else if (r.status == 206 && content_range_start(r.header("Content-Range")) != have_) {
      *error = "the server answered the Range request for byte " + std::to_string(have_) + " with '" +
               r.header("Content-Range") + "'";
      return false;
    }
    return true;
  }

  bool append(const char* p, size_t n) {
    for (size_t done = 0; done < n;) {
      const ssize_t w = ::write(fd_, p + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        write_error_ = errno == EFBIG ? "the file size limit (ulimit -f) was reached" : std::strerror(errno);
        disk_full_ = errno == ENOSPC || errno == EDQUOT;
        return false;
      }
      done += static_cast<size_t>(w);
    }
    have_ += n;
    if (streaming()) sha_.update(p, n);
    progress_->advance(n);
    return true;
  }
  bool disk_full() const { return disk_full_; }
  void restart() {  // from byte 0 again
    truncate();
    progress_->restart();
  }

  // fsync, then the checksum: "" when it matches (or cannot be checked), else the actual digest.
  std::string finish_and_check() {
    if (::fsync(fd_) != 0) fail("{}: cannot write to disk: {}", path_.string(), std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
    if (want_.kind == ExpectedChecksum::Kind::None) return "";
    const std::string got = streaming() ? sha_.hex() : file_checksum(path_.string(), want_.kind);
    return got == want_.hex ? "" : got;
  }

 private:
  bool streaming() const { return want_.kind == ExpectedChecksum::Kind::Sha256; }
  void truncate() {
    if (::ftruncate(fd_, 0) != 0) fail("{}: cannot truncate: {}", path_.string(), std::strerror(errno));
    have_ = 0;
    sha_.reset();
  }

  fs::path path_;
  FileMeta meta_;
  ExpectedChecksum want_;
  Digest sha_;
  int fd_ = -1;
  uint64_t have_ = 0;
  std::string write_error_;
  bool disk_full_ = false;
  std::optional<Progress> progress_;
};

std::string kept_note(const PartialFile& p, const fs::path& path) {
  return fmt::format("{} kept in {}; run the same command again to resume", human_bytes(static_cast<double>(p.have())),
                     path.string());
}

void download_blob(FetchContext& ctx, const FileMeta& meta, const std::string& file) {
  const RepoCache& cache = ctx.cache;
  const fs::path part_path = cache.incomplete(meta.etag);
  PartialFile part(part_path, meta, file);
  if (part.expected().kind == ExpectedChecksum::Kind::None)
    std::fprintf(stderr, "warning: %s cannot be verified: its ETag '%s' is neither a sha256 nor a git blob sha1\n",
                 file.c_str(), meta.etag.c_str());
  if (meta.size) check_free_space(part_path.parent_path(), *meta.size - part.have(), file);
  const RequestSubject subject{cache.repo(), meta.commit, file};
  for (int cuts = 0; !part.complete();) {
    std::string range_error;
    HttpClient::BodySink sink{[&](const HttpResponse& r) { return part.start(r, &range_error); },
                              [&](const char* p, size_t n) {
                                if (!part.append(p, n)) return false;
                                ctx.bytes_received += n;
                                return true;
                              }};
    HttpResponse r;
    const uint64_t before = part.have();
    try {
      r = ctx.http.get_to(meta.download_url, part.have(), sink);
    } catch (const Interrupted&) {
      part.progress().abandon();
      throw Interrupted(fmt::format("interrupted while downloading {}: {}", file, kept_note(part, part_path)));
    } catch (const NetworkError& e) {
      part.progress().abandon();
      if (part.have() == before)  // this connection brought nothing: stop here
        throw NetworkError(fmt::format("downloading {}: {} ({})", file, e.what(), kept_note(part, part_path)));
      std::fprintf(stderr, "%s: %s; resuming at byte %llu\n", file.c_str(), e.what(),
                   static_cast<unsigned long long>(part.have()));
      continue;
    }
    if (!part.write_error().empty()) {
      part.progress().abandon();
      if (part.disk_full())
        fail("no space left on the disk for {} ({}): free some space (or set HF_HUB_CACHE to another disk); {}", file,
             part_path.parent_path().string(), kept_note(part, part_path));
      fail("cannot write {}: {}; {}", part_path.string(), part.write_error(), kept_note(part, part_path));
    }
    if (!range_error.empty()) fail("downloading {}: {}", file, range_error);
    if (r.status == 416 && part.have() > 0) {  // nothing after our partial file
      if (!meta.size) break;                   // it holds everything (the checksum tells)
      if (++cuts > kMaxCuts) fail("downloading {}: the server keeps refusing the Range request", file);
      part.restart();  // it is not a prefix of this file
      continue;
    }
    if (r.status < 200 || r.status >= 300) {
      part.progress().abandon();
      fail_http(r, ctx.http.config(), subject);
    }
    if (!meta.size) break;  // no size announced: the end of the body is the end of the file
    if (part.have() > *meta.size) {
      std::error_code ec;
      fs::remove(part_path, ec);
      fail("downloading {}: the server sent more than the {} bytes announced; the download was deleted, run the "
           "command again",
           file, *meta.size);
    }
    if (part.have() < *meta.size && ++cuts > kMaxCuts)
      throw NetworkError(fmt::format("downloading {}: the server keeps ending the file early ({})", file,
                                     kept_note(part, part_path)));
  }
  part.progress().finish();
  const std::string bad = part.finish_and_check();
  std::error_code ec;
  if (!bad.empty()) {
    fs::remove(part_path, ec);
    fail("{} from {} is corrupt: its content hashes to {}, not the {} the Hub announced. The download was deleted; "
         "run the command again (if it persists, the mirror at HF_ENDPOINT serves bad data)",
         file, cache.repo(), bad, part.expected().describe());
  }
  fs::rename(part_path, cache.blob(meta.etag), ec);
  if (ec) fail("{}: cannot rename to {}: {}", part_path.string(), cache.blob(meta.etag).string(), ec.message());
}

bool usable_blob(const fs::path& blob, const FileMeta& meta) {
  std::error_code ec;
  if (!fs::is_regular_file(blob, ec)) return false;
  if (meta.size && fs::file_size(blob, ec) != *meta.size) {
    fs::remove(blob, ec);  // truncated by something else: fetch it again
    return false;
  }
  return true;
}

}  // namespace

fs::path fetch_file(FetchContext& ctx, const std::string& commit, const std::string& file) {
  const fs::path ptr = ctx.cache.pointer(commit, file);
  std::error_code ec;
  if (fs::is_regular_file(ptr, ec)) return ptr;  // a commit never changes: in the snapshot means done
  const FileMeta meta = fetch_file_meta(ctx.http, ctx.cache.repo(), commit, file, ctx.revision);
  const fs::path blob = ctx.cache.blob(meta.etag);
  fs::create_directories(blob.parent_path());
  {
    FileLock lock(ctx.cache.lock_file(meta.etag),
                  [&] {
                    std::fprintf(stderr, "%s: another process is downloading it (%s); waiting\n", file.c_str(),
                                 ctx.cache.lock_file(meta.etag).c_str());
                  },
                  ctx.cancel);
    if (!usable_blob(blob, meta)) download_blob(ctx, meta, file);
    ctx.cache.link(commit, file, meta.etag);
  }
  return ptr;
}

}  // namespace pocketllm::hub
