// Attaching to an existing TAP interface. We never create one: TUNSETIFF on a name that
// does not exist would silently make a new, unconfigured TAP, so existence is checked first.
#include "shmtender.h"
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace shmtender {

// Interface flags via SIOCGIFFLAGS; returns -errno on failure.
static int InterfaceFlags(const char* name, short* flags) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
  int err = errno;
  close(s);
  if (rc < 0) return -err;
  *flags = ifr.ifr_flags;
  return 0;
}

// tapAttach(name, vnetHdrBytes = 0) -> fd (non-blocking, close-on-exec, IFF_TAP | IFF_NO_PI).
// vnetHdrBytes > 0 adds IFF_VNET_HDR and sets that header size (TUNSETVNETHDRSZ): every
// read() then starts with a virtio-net header and every write() must carry one.
static Napi::Value TapAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "tapAttach(name): name must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int64_t vnetHdr = 0;
  if (info.Length() > 1 && !info[1].IsUndefined() && !ArgInt(info, 1, vnetHdr)) return env.Undefined();
  if (vnetHdr != 0 && (vnetHdr < 10 || vnetHdr > 64)) {
    Napi::RangeError::New(env, "tapAttach: the virtio-net header size must be 0 or 10..64").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos) {
    return ThrowErrno(env, EINVAL, "invalid interface name '" + name + "' (1 to " +
                                       std::to_string(IFNAMSIZ - 1) + " characters, no '/')");
  }
  if (if_nametoindex(name.c_str()) == 0) {
    return ThrowErrno(env, ENODEV, "no such interface '" + name + "' (create it with: ip tuntap add dev " +
                                       name + " mode tap)");
  }
  short flags = 0;
  int rc = InterfaceFlags(name.c_str(), &flags);
  if (rc < 0) return ThrowErrno(env, -rc, "cannot read the flags of interface '" + name + "': " + std::strerror(-rc));
  if (!(flags & IFF_UP)) {
    return ThrowErrno(env, ENETDOWN, "interface '" + name + "' is down (bring it up with: ip link set dev " + name + " up)");
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENXIO || err == ENODEV)
      return ThrowErrno(env, err, "/dev/net/tun is missing (load the tun module: modprobe tun)");
    if (err == EACCES || err == EPERM)
      return ThrowErrno(env, err, "permission denied opening /dev/net/tun: needs root or CAP_NET_ADMIN");
    return ThrowErrno(env, err, std::string("cannot open /dev/net/tun: ") + std::strerror(err));
  }
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnetHdr > 0 ? IFF_VNET_HDR : 0);
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    if (err == EPERM || err == EACCES)
      return ThrowErrno(env, err, "permission denied attaching to '" + name + "': needs root or CAP_NET_ADMIN");
    if (err == EBUSY)
      return ThrowErrno(env, err, "interface '" + name + "' is busy: another process is attached to it");
    if (err == EINVAL)
      return ThrowErrno(env, err, "interface '" + name + "' is not a TAP device (make one with: ip tuntap add dev " +
                                      name + " mode tap)");
    return ThrowErrno(env, err, "cannot attach to '" + name + "': " + std::strerror(err));
  }
  int size = static_cast<int>(vnetHdr);
  if (size > 0 && ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, err, "cannot set the virtio-net header size of '" + name + "': " + std::strerror(err));
  }
  return Napi::Number::New(env, fd);
}

// tapSetOffload(fd, tunFlags): TUNSETOFFLOAD with exactly these TUN_F_* bits. The kernel
// refuses a set it does not know with EINVAL (so a caller can try a set and fall back).
// Offloads outlive the fd on a persistent TAP, so an attach without offloads sets 0.
static Napi::Value TapSetOffload(const Napi::CallbackInfo& info) {
  int fd;
  int64_t flags;
  if (!ArgFd(info, 0, fd) || !ArgInt(info, 1, flags)) return info.Env().Undefined();
  if (flags < 0 || flags > 0xffff) {
    Napi::RangeError::New(info.Env(), "tapSetOffload: flags out of range").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(flags)) < 0)
    return ThrowErrno(info.Env(), errno, std::string("TUNSETOFFLOAD: ") + std::strerror(errno));
  return info.Env().Undefined();
}

// watchSocket() -> an AF_UNIX datagram socket, made at setup, for interfaceState after the
// lock (when no socket can be made). AF_UNIX: it can name interfaces but reach no network.
static Napi::Value WatchSocket(const Napi::CallbackInfo& info) {
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return ThrowErrno(info.Env(), errno, std::string("socket: ") + std::strerror(errno));
  return Napi::Number::New(info.Env(), s);
}

// interfaceState(sock, name) -> { exists, up } for device-fault detection at run
// time: one SIOCGIFFLAGS on the socket from watchSocket(); ENODEV means the TAP was deleted.
static Napi::Value InterfaceState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock;
  if (!ArgFd(info, 0, sock)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsString()) {
    Napi::TypeError::New(env, "interfaceState(sock, name): name must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[1].As<Napi::String>().Utf8Value();
  if (name.empty() || name.size() >= IFNAMSIZ) return ThrowErrno(env, EINVAL, "invalid interface name '" + name + "'");
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  bool exists = true;
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
    if (errno != ENODEV) return ThrowErrno(env, errno, "interface '" + name + "': " + std::strerror(errno));
    exists = false;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("exists", exists);
  out.Set("up", exists && (ifr.ifr_flags & IFF_UP) != 0);
  return out;
}

// setBlocking(fd, blocking): for callers that want plain blocking reads (the bench's
// node-readsync row: what a Node user would write without us).
static Napi::Value SetBlocking(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, fd)) return info.Env().Undefined();
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return ThrowErrno(info.Env(), errno, std::string("fcntl: ") + std::strerror(errno));
  flags = info.Length() > 1 && info[1].ToBoolean() ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  if (fcntl(fd, F_SETFL, flags) < 0) return ThrowErrno(info.Env(), errno, std::string("fcntl: ") + std::strerror(errno));
  return info.Env().Undefined();
}

static Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, fd)) return info.Env().Undefined();
  if (close(fd) < 0 && errno != EINTR) return ThrowErrno(info.Env(), errno, std::string("close: ") + std::strerror(errno));
  return info.Env().Undefined();
}

void InitTap(Napi::Env env, Napi::Object exports) {
  exports.Set("tapAttach", Napi::Function::New(env, TapAttach, "tapAttach"));
  exports.Set("tapSetOffload", Napi::Function::New(env, TapSetOffload, "tapSetOffload"));
  exports.Set("watchSocket", Napi::Function::New(env, WatchSocket, "watchSocket"));
  exports.Set("interfaceState", Napi::Function::New(env, InterfaceState, "interfaceState"));
  exports.Set("setBlocking", Napi::Function::New(env, SetBlocking, "setBlocking"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
}

}  // namespace shmtender
