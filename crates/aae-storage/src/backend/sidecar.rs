//! An `ObjectStore` decorator that keeps object attributes (content type, user metadata) in a
//! second store, for engines that cannot store them with the object (`LocalFileSystem`).
//!
//! The attributes of `key` live at the same key in the sidecar store as a small JSON document.
//! Data is written first, then attributes; deletes remove both.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};

/// Data in one store, attributes in another.
#[derive(Debug)]
pub struct SidecarMetadata {
    data: Arc<dyn ObjectStore>,
    meta: Arc<dyn ObjectStore>,
}

impl SidecarMetadata {
    /// Wraps `data`, keeping attributes in `meta`.
    pub fn new(data: Arc<dyn ObjectStore>, meta: Arc<dyn ObjectStore>) -> Self {
        Self { data, meta }
    }
}

impl fmt::Display for SidecarMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SidecarMetadata({})", self.data)
    }
}

fn attribute_name(attribute: &Attribute) -> String {
    match attribute {
        Attribute::ContentDisposition => "content-disposition".into(),
        Attribute::ContentEncoding => "content-encoding".into(),
        Attribute::ContentLanguage => "content-language".into(),
        Attribute::ContentType => "content-type".into(),
        Attribute::CacheControl => "cache-control".into(),
        Attribute::StorageClass => "storage-class".into(),
        Attribute::Metadata(key) => format!("meta:{key}"),
        _ => "unknown".into(),
    }
}

fn attribute_from_name(name: &str) -> Option<Attribute> {
    Some(match name {
        "content-disposition" => Attribute::ContentDisposition,
        "content-encoding" => Attribute::ContentEncoding,
        "content-language" => Attribute::ContentLanguage,
        "content-type" => Attribute::ContentType,
        "cache-control" => Attribute::CacheControl,
        "storage-class" => Attribute::StorageClass,
        other => Attribute::Metadata(other.strip_prefix("meta:")?.to_owned().into()),
    })
}

fn encode(attributes: &Attributes) -> Bytes {
    let map: BTreeMap<String, String> =
        attributes.iter().map(|(k, v)| (attribute_name(k), v.as_ref().to_owned())).collect();
    Bytes::from(serde_json::to_vec(&map).unwrap_or_default())
}

fn decode(bytes: &[u8]) -> Attributes {
    let map: BTreeMap<String, String> = serde_json::from_slice(bytes).unwrap_or_default();
    map.into_iter().filter_map(|(k, v)| Some((attribute_from_name(&k)?, AttributeValue::from(v)))).collect()
}

impl SidecarMetadata {
    async fn write_meta(&self, location: &Path, attributes: &Attributes) -> object_store::Result<()> {
        if attributes.is_empty() {
            return ignore_not_found(self.meta.delete(location).await);
        }
        self.meta.put(location, PutPayload::from_bytes(encode(attributes))).await.map(|_| ())
    }

    async fn read_meta(&self, location: &Path) -> object_store::Result<Attributes> {
        match self.meta.get(location).await {
            Ok(result) => Ok(decode(&result.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(Attributes::new()),
            Err(e) => Err(e),
        }
    }
}

fn ignore_not_found(result: object_store::Result<()>) -> object_store::Result<()> {
    match result {
        Err(object_store::Error::NotFound { .. }) => Ok(()),
        other => other,
    }
}

#[async_trait]
impl ObjectStore for SidecarMetadata {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        mut opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let attributes = std::mem::take(&mut opts.attributes);
        let result = self.data.put_opts(location, payload, opts).await?;
        self.write_meta(location, &attributes).await?;
        Ok(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        mut opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let attributes = std::mem::take(&mut opts.attributes);
        let inner = self.data.put_multipart_opts(location, opts).await?;
        Ok(Box::new(SidecarUpload {
            inner,
            meta: Arc::clone(&self.meta),
            location: location.clone(),
            attributes: Some(attributes),
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        let mut result = self.data.get_opts(location, options).await?;
        result.attributes = self.read_meta(location).await?;
        Ok(result)
    }

    async fn get_range(&self, location: &Path, range: Range<u64>) -> object_store::Result<Bytes> {
        self.data.get_range(location, range).await
    }

    async fn head(&self, location: &Path) -> object_store::Result<ObjectMeta> {
        self.data.head(location).await
    }

    async fn delete(&self, location: &Path) -> object_store::Result<()> {
        self.data.delete(location).await?;
        ignore_not_found(self.meta.delete(location).await)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.data.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.data.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.data.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.data.copy(from, to).await?;
        let attributes = self.read_meta(from).await?;
        self.write_meta(to, &attributes).await
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.data.copy_if_not_exists(from, to).await?;
        let attributes = self.read_meta(from).await?;
        self.write_meta(to, &attributes).await
    }
}

#[derive(Debug)]
struct SidecarUpload {
    inner: Box<dyn MultipartUpload>,
    meta: Arc<dyn ObjectStore>,
    location: Path,
    attributes: Option<Attributes>,
}

#[async_trait]
impl MultipartUpload for SidecarUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let result = self.inner.complete().await?;
        let attributes = self.attributes.take().unwrap_or_default();
        let sidecar = SidecarMetadata { data: Arc::clone(&self.meta), meta: Arc::clone(&self.meta) };
        sidecar.write_meta(&self.location, &attributes).await?;
        Ok(result)
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn attributes_round_trip_and_follow_copies_and_deletes() -> object_store::Result<()> {
        let meta: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let store = SidecarMetadata::new(Arc::new(InMemory::new()), Arc::clone(&meta));
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, "image/png".into());
        attributes.insert(Attribute::Metadata("user_id".into()), "u1".into());
        let path = Path::from("a/b.png");
        store.put_opts(&path, PutPayload::from_static(b"png"), attributes.clone().into()).await?;
        let got = store.get(&path).await?;
        assert_eq!(got.attributes, attributes);
        assert_eq!(got.bytes().await?.as_ref(), b"png");
        let copy = Path::from("c.png");
        store.copy(&path, &copy).await?;
        assert_eq!(store.get(&copy).await?.attributes, attributes);
        store.delete(&path).await?;
        assert!(matches!(meta.get(&path).await, Err(object_store::Error::NotFound { .. })));
        Ok(())
    }
}
