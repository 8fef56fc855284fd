// Kafka helpers for the run-mode tests: an outside producer and consumer (plain librdkafka
// clients, independent of the code under test) against the embedded broker.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace reflex::connectors::test {

struct Record {
  std::string key, value;
  std::map<std::string, std::string> headers;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;  // the record's timestamp (CreateTime: when it was produced)
};

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string l;
  while (std::getline(in, l)) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

// Produces values (key = keys[i] when given) and waits for every acknowledgement.
inline int ProduceAll(const std::string& bootstrap, const std::string& topic,
                      const std::vector<std::string>& values,
                      const std::vector<std::string>& keys = {},
                      const std::map<std::string, std::string>& headers = {}) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!p) return -1;
  int failed = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    rd_kafka_headers_t* h = rd_kafka_headers_new(headers.size());
    for (const auto& [k, v] : headers) {
      rd_kafka_header_add(h, k.data(), static_cast<ssize_t>(k.size()), v.data(),
                          static_cast<ssize_t>(v.size()));
    }
    const std::string key = i < keys.size() ? keys[i] : "";
    for (;;) {
      rd_kafka_resp_err_t e = rd_kafka_producev(
          p, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(values[i].data()), values[i].size()),
          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(p, 10);
        continue;
      }
      if (e) {
        rd_kafka_headers_destroy(h);
        ++failed;
      }
      break;
    }
  }
  if (rd_kafka_flush(p, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) failed = -1;
  rd_kafka_destroy(p);
  return failed;
}

// Produces one record to partition `partition` of `topic` and waits for its
// acknowledgement; 0 when acknowledged.
inline int ProduceToPartition(const std::string& bootstrap, const std::string& topic,
                              int32_t partition, const std::string& key, const std::string& value) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!p) return -1;
  int failed = rd_kafka_producev(
                   p, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
                   RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                   RD_KAFKA_V_END) != RD_KAFKA_RESP_ERR_NO_ERROR;
  if (rd_kafka_flush(p, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) failed = -1;
  rd_kafka_destroy(p);
  return failed;
}

// Reads `topic` from the beginning (all partitions, no group) until `expected` records
// arrived or `timeout` passed; then reads on for `settle` to catch any surplus.
inline std::vector<Record> ConsumeAll(
    const std::string& bootstrap, const std::string& topic, size_t expected,
    std::chrono::milliseconds timeout = std::chrono::seconds(60),
    std::chrono::milliseconds settle = std::chrono::milliseconds(300)) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "test-reader", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  std::vector<Record> out;
  if (!c) return out;
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* t = rd_kafka_topic_new(c, topic.c_str(), nullptr);
  int partitions = 0;
  for (int tries = 0; tries < 50 && partitions == 0; ++tries) {
    if (rd_kafka_metadata(c, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1) partitions = md->topics[0].partition_cnt;
      rd_kafka_metadata_destroy(md);
    }
    if (partitions == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  rd_kafka_topic_destroy(t);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(c, list);
  rd_kafka_topic_partition_list_destroy(list);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool settling = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!settling && out.size() >= expected) {
      settling = true;
      deadline = std::chrono::steady_clock::now() + settle;
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 50);
    if (!m) continue;
    if (!m->err) {
      Record r;
      if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
      r.partition = m->partition;
      r.offset = m->offset;
      r.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
      rd_kafka_headers_t* h = nullptr;
      if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* val;
        size_t size;
        for (size_t i = 0;
             rd_kafka_header_get_all(h, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
          r.headers[name] = std::string(static_cast<const char*>(val), size);
        }
      }
      out.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  return out;
}

}  // namespace reflex::connectors::test
