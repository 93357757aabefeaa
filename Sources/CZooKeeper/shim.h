#ifndef SWIFT_MESOS_CZOOKEEPER_SHIM_H
#define SWIFT_MESOS_CZOOKEEPER_SHIM_H

#define THREADED 1
#include <zookeeper/zookeeper.h>

#endif
