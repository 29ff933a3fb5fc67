//! `stats` on DynamoDB: one `Query` per status on `status_created_index` (`Select = COUNT`,
//! or projecting `execution_time` for `completed`), or one `Query` on `user_campaigns_index`
//! projecting status and execution time for one user. See the `dynamodb` module docs for cost.

use aws_sdk_dynamodb::types::{AttributeValue, Select};

use super::item::{EXECUTION_TIME, STATUS, USER_ID, opt_number};
use super::{DynamoCampaignStore, STATUS_INDEX, USER_INDEX, sdk_error};
use crate::campaigns::CampaignStatus;
use crate::error::StoreResult;

const ENTITY: &str = "campaign";

/// `(status, count, completed execution time sum, completed execution times)`, as
/// [`crate::CampaignStats::from_groups`] takes them.
pub(crate) type Group = (String, i64, f64, i64);

impl DynamoCampaignStore {
    /// Count (and, for `completed`, execution time sum) of one status over all users.
    pub(crate) async fn status_group(&self, status: CampaignStatus) -> StoreResult<Option<Group>> {
        let completed = status == CampaignStatus::Completed;
        let (mut count, mut sum, mut timed) = (0i64, 0.0, 0i64);
        let mut start = None;
        loop {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(STATUS_INDEX)
                .key_condition_expression("#s = :s")
                .expression_attribute_names("#s", STATUS)
                .expression_attribute_values(":s", AttributeValue::S(status.as_str().to_owned()))
                .set_exclusive_start_key(start.take());
            let query =
                if completed { query.projection_expression(EXECUTION_TIME) } else { query.select(Select::Count) };
            let out = query.send().await.map_err(|e| sdk_error(ENTITY, &self.table, e))?;
            count += i64::from(out.count);
            for item in out.items() {
                if let Some(t) = opt_number(item, EXECUTION_TIME)? {
                    sum += t;
                    timed += 1;
                }
            }
            match out.last_evaluated_key {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        Ok((count > 0).then(|| (status.as_str().to_owned(), count, sum, timed)))
    }

    /// Every status of one user, from `user_campaigns_index` projecting status and execution time.
    pub(crate) async fn user_groups(&self, user_id: &str) -> StoreResult<Vec<Group>> {
        let mut groups: Vec<Group> = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(USER_INDEX)
                .key_condition_expression("#u = :u")
                .expression_attribute_names("#u", USER_ID)
                .expression_attribute_names("#s", STATUS)
                .expression_attribute_values(":u", AttributeValue::S(user_id.to_owned()))
                .projection_expression(format!("#s, {EXECUTION_TIME}"))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error(ENTITY, &self.table, e))?;
            for item in out.items() {
                let Some(AttributeValue::S(status)) = item.get(STATUS) else { continue };
                let index = match groups.iter().position(|g| &g.0 == status) {
                    Some(index) => index,
                    None => {
                        groups.push((status.clone(), 0, 0.0, 0));
                        groups.len() - 1
                    }
                };
                let group = &mut groups[index];
                group.1 += 1;
                if status == CampaignStatus::Completed.as_str()
                    && let Some(t) = opt_number(item, EXECUTION_TIME)?
                {
                    group.2 += t;
                    group.3 += 1;
                }
            }
            match out.last_evaluated_key {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        Ok(groups)
    }
}
