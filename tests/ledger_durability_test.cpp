// The spool's per-sink ledger survives a power cut (issue 17, item 2). The ledger's file calls go
// through io/file_ops; here a model file system stands in that, like a real one after a power
// cut, forgets file data that was not fdatasynced and directory entries (a rename) whose
// directory was not fsynced. After each persist_ledger() the model "loses power" and the ledger
// must read back with the watermark just persisted.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "io/file_ops.hpp"
#include "stages/spool/spool.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

using testing::temp_dir;

class power_cut_fs final : public file_ops {
 public:
  int open(const char* path, int flags, mode_t) override {
    const int fd = next_fd_++;
    if ((flags & O_DIRECTORY) != 0) {
      fds_[fd] = kDirectory;
      return fd;
    }
    auto it = now_.find(path);
    if (it == now_.end()) {
      if ((flags & O_CREAT) == 0) {
        errno = ENOENT;
        return -1;
      }
      inodes_.push_back({});
      it = now_.emplace(path, inodes_.size() - 1).first;
    }
    if ((flags & O_TRUNC) != 0) inodes_[it->second].data.clear();
    fds_[fd] = static_cast<long>(it->second);
    return fd;
  }
  ssize_t write(int fd, const void* data, std::size_t size) override {
    inodes_[inode(fd)].data.append(static_cast<const char*>(data), size);
    return static_cast<ssize_t>(size);
  }
  int fdatasync(int fd) override {
    if (fail_syncs_with_ != 0) {
      errno = fail_syncs_with_;
      return -1;
    }
    if (fds_.at(fd) == kDirectory) return 0;  // a directory's fdatasync: nothing of its entries
    inodes_[inode(fd)].synced = inodes_[inode(fd)].data;
    return 0;
  }
  int fsync(int fd) override {
    if (fail_syncs_with_ != 0) {
      errno = fail_syncs_with_;
      return -1;
    }
    if (fds_.at(fd) == kDirectory) {
      durable_ = now_;
      return 0;
    }
    return fdatasync(fd);
  }
  int close(int fd) override {
    fds_.erase(fd);
    return 0;
  }
  int rename(const char* from, const char* to) override {
    auto it = now_.find(from);
    if (it == now_.end()) {
      errno = ENOENT;
      return -1;
    }
    now_[to] = it->second;
    now_.erase(from);
    return 0;
  }
  /// Power cut: only synced data and synced directory entries are left.
  void cut_power() {
    now_ = durable_;
    for (auto& i : inodes_) i.data = i.synced;
  }
  std::optional<std::string> read(const std::string& path) const {
    const auto it = now_.find(path);
    if (it == now_.end()) return std::nullopt;
    return inodes_[it->second].data;
  }
  int fail_syncs_with_ = 0;

 private:
  static constexpr long kDirectory = -1;
  std::size_t inode(int fd) const { return static_cast<std::size_t>(fds_.at(fd)); }
  struct inode_data {
    std::string data, synced;
  };
  std::vector<inode_data> inodes_;
  std::map<std::string, std::size_t> now_, durable_;
  std::map<int, long> fds_;
  int next_fd_ = 100;
};

spool_config config_in(const temp_dir& dir) {
  spool_config c;
  c.dir = dir / "spool";
  c.fsync = fsync_policy::off;
  return c;
}

TEST(LedgerDurability, APersistedWatermarkSurvivesAPowerCut) {
  temp_dir dir;
  spool sp(config_in(dir));
  ASSERT_TRUE(sp.open({"kafka"}).is_ok());
  power_cut_fs fs;
  sp.set_file_ops(fs);
  const std::string ledger = (dir.path() / "spool" / "kafka.ledger").string();
  for (const std::uint64_t w : {700u, 900u, 1500u}) {
    sp.confirm(0, w);
    ASSERT_TRUE(sp.persist_ledger(0).is_ok());
    fs.cut_power();
    const auto text = fs.read(ledger);
    ASSERT_TRUE(text.has_value()) << "the ledger's rename was lost (directory not fsynced)";
    const auto v = parse_ledger(*text);
    ASSERT_TRUE(v.has_value()) << "the ledger is empty or torn (not fdatasynced): '" << *text
                               << "'";
    EXPECT_EQ(*v, w);
  }
}

TEST(LedgerDurability, AFailedSyncIsAnErrorWithTheFileAndErrno) {
  temp_dir dir;
  spool sp(config_in(dir));
  ASSERT_TRUE(sp.open({"kafka"}).is_ok());
  power_cut_fs fs;
  fs.fail_syncs_with_ = EIO;
  sp.set_file_ops(fs);
  sp.confirm(0, 700);
  const status s = sp.persist_ledger(0);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), EIO);
  EXPECT_NE(s.message().find("kafka.ledger.tmp"), std::string::npos) << s.message();
  // Not marked persisted: the next call tries again.
  fs.fail_syncs_with_ = 0;
  ASSERT_TRUE(sp.persist_ledger(0).is_ok());
  fs.cut_power();
  EXPECT_EQ(parse_ledger(fs.read((dir.path() / "spool" / "kafka.ledger").string()).value_or("")),
            700u);
}

// The sink threads' periodic ledger goes through the spool's ledger thread (the fsyncs took
// milliseconds out of the sink thread): it must carry the watermark and the sink state of the
// moment it was asked for, together (the file sink's length matches its watermark), and a
// waited-for write made after it wins.
TEST(LedgerDurability, ABackgroundWriteKeepsTheWatermarkAndStateOfTheRequest) {
  temp_dir dir;
  spool sp(config_in(dir));
  ASSERT_TRUE(sp.open({"file"}).is_ok());
  const std::string ledger = (dir.path() / "spool" / "file.ledger").string();
  auto read_ledger = [&] {
    std::ifstream in(ledger);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  sp.confirm(0, 700);
  ASSERT_TRUE(sp.persist_ledger_async(0, "length=10\n").is_ok());
  sp.confirm(0, 900);  // after the request: not in the ledger it asked for
  ASSERT_TRUE(testing::wait_until([&] { return parse_ledger(read_ledger()) == 700u; }))
      << read_ledger();
  EXPECT_EQ(parse_ledger_state(read_ledger()), "length=10\n");
  ASSERT_TRUE(sp.persist_ledger(0, "length=20\n").is_ok());
  EXPECT_EQ(parse_ledger(read_ledger()), 900u);
  EXPECT_EQ(parse_ledger_state(read_ledger()), "length=20\n");
  // A state too long for the ledger is refused at once, as a waited-for write refuses it.
  EXPECT_FALSE(
      sp.persist_ledger_async(0, std::string(spool::kMaxLedgerStateBytes + 1, 'x')).is_ok());
}

}  // namespace
}  // namespace edgepipe
