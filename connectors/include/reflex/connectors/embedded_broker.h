// EmbeddedBroker: librdkafka's mock cluster (rdkafka_mock.h) run in-process on 127.0.0.1.
// It speaks the Kafka protocol, so Reflex's own consumer and producer, and outside clients
// such as kcat, talk to it exactly as to a real cluster. It is the default of `reflex run`
// when no brokers are configured, and the broker of the integration tests.
//
// Limits (librdkafka 2.0.2): each partition keeps at most 5 MiB and 100,000 message sets
// and drops older data silently; no replication; the cluster lives as long as this object.
//
// Thread-safety: all methods may be called from any thread.
//
//   auto broker = EmbeddedBroker::Start({.brokers = 1});
//   (*broker)->CreateTopic("reflex.events", 4);
//   std::string bootstrap = (*broker)->bootstrap();  // "127.0.0.1:40123"
#pragma once

#include <memory>
#include <string>

#include "reflex/engine/status.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace reflex::connectors {

struct EmbeddedBrokerOptions {
  int brokers = 1;  // number of mock brokers (ids 1..brokers)
};

class EmbeddedBroker {
 public:
  static engine::StatusOr<std::unique_ptr<EmbeddedBroker>> Start(EmbeddedBrokerOptions options);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // Comma-separated host:port list for bootstrap.servers.
  const std::string& bootstrap() const { return bootstrap_; }

  // Creates a topic (replication factor 1). Creating an existing topic is an error.
  engine::Status CreateTopic(const std::string& topic, int partitions);

  // Fault injection: a broker that is down drops its connections and refuses new ones.
  engine::Status SetBrokerDown(int broker_id);
  engine::Status SetBrokerUp(int broker_id);
  // Adds `rtt_ms` of round-trip delay to every response of a broker.
  engine::Status SetBrokerRtt(int broker_id, int rtt_ms);

  rd_kafka_mock_cluster_t* cluster() const { return cluster_; }

 private:
  EmbeddedBroker() = default;
  rd_kafka_t* handle_ = nullptr;  // the client instance that hosts the mock cluster
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace reflex::connectors
